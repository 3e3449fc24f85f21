"""Payments: prices, orders, provider payments and refunds, 54-FZ receipts and a
double-entry ledger, as pure data and rules (no I/O). See payments.model and
payments.ports."""
