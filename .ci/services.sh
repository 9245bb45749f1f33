# Services for the test suite. Sourced by .ci/run.
start_services() { :; }
stop_services() { :; }
