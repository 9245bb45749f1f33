"""The market core: catalog and prices, spot auctions, reserved contracts, billing and a
double-entry ledger. Pure: no I/O, no wall clock, no randomness; money is ``Decimal`` rounded
only by ``suanli.market.money.round_money``."""
