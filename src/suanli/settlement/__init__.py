"""Settlement: persisting what ``suanli.market`` prices - ledger transactions, invoice lines and
the set of billed meter records - and running billing batches against that store."""
