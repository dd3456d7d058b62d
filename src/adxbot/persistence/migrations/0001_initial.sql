-- adxbot trade database, schema version 1.
-- Money and quantities are TEXT holding the exact Decimal string: no REAL column anywhere.
-- Times are integer UTC epoch milliseconds; booleans are 0 or 1; enums hold their value.

CREATE TABLE bot_info (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE orders (
    client_order_id   TEXT PRIMARY KEY,
    exchange_order_id TEXT,
    purpose           TEXT NOT NULL,
    side              TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    position_side     TEXT NOT NULL,
    order_type        TEXT NOT NULL,
    quantity          TEXT,
    price             TEXT,
    trigger_price     TEXT,
    reduce_only       INTEGER NOT NULL CHECK (reduce_only IN (0, 1)),
    close_position    INTEGER NOT NULL CHECK (close_position IN (0, 1)),
    status            TEXT NOT NULL,
    reason            TEXT NOT NULL DEFAULT '',
    created_ms        INTEGER NOT NULL,
    updated_ms        INTEGER NOT NULL,
    position_id       INTEGER
);

CREATE INDEX orders_by_status ON orders (status, created_ms);
CREATE INDEX orders_by_created ON orders (created_ms);

CREATE TABLE order_status_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
    status          TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    time_ms         INTEGER NOT NULL
);

CREATE INDEX order_status_history_by_order ON order_status_history (client_order_id, id);

-- No foreign key to orders: a fill the exchange reports is a fact even for an order
-- the bot adopted during reconciliation.
CREATE TABLE fills (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id   TEXT NOT NULL,
    exchange_order_id TEXT,
    side              TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity          TEXT NOT NULL,
    price             TEXT NOT NULL,
    fee               TEXT NOT NULL,
    liquidity         TEXT NOT NULL,
    realized_pnl      TEXT NOT NULL,
    time_ms           INTEGER NOT NULL
);

CREATE INDEX fills_by_order ON fills (client_order_id, id);

CREATE TABLE positions (
    position_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    direction      TEXT NOT NULL CHECK (direction IN ('long', 'short')),
    position_side  TEXT NOT NULL,
    quantity       TEXT NOT NULL,
    entry_price    TEXT NOT NULL,
    opened_ms      INTEGER NOT NULL,
    signal_time_ms INTEGER NOT NULL,
    entry_fee      TEXT NOT NULL,
    stop_loss      TEXT,
    take_profit    TEXT,
    funding        TEXT NOT NULL,
    closed_ms      INTEGER
);

CREATE INDEX positions_open ON positions (closed_ms, position_id);

CREATE TABLE trades (
    trade_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    position_id    INTEGER NOT NULL,
    direction      TEXT NOT NULL CHECK (direction IN ('long', 'short')),
    signal_time_ms INTEGER NOT NULL,
    entry_time_ms  INTEGER NOT NULL,
    entry_price    TEXT NOT NULL,
    quantity       TEXT NOT NULL,
    exit_time_ms   INTEGER NOT NULL,
    exit_price     TEXT NOT NULL,
    exit_reason    TEXT NOT NULL,
    pnl            TEXT NOT NULL,
    fees           TEXT NOT NULL,
    funding        TEXT NOT NULL
);

CREATE INDEX trades_by_exit ON trades (exit_time_ms, trade_id);

CREATE TABLE equity_snapshots (
    time_ms        INTEGER PRIMARY KEY,
    balance        TEXT NOT NULL,
    equity         TEXT NOT NULL,
    unrealized_pnl TEXT NOT NULL,
    open_positions INTEGER NOT NULL CHECK (open_positions >= 0)
);

CREATE TABLE daily_pnl (
    day          TEXT PRIMARY KEY CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    start_equity TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    fees         TEXT NOT NULL,
    trades       INTEGER NOT NULL CHECK (trades >= 0),
    last_equity  TEXT NOT NULL,
    updated_ms   INTEGER NOT NULL
);

CREATE TABLE events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms  INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    severity TEXT NOT NULL,
    message  TEXT NOT NULL,
    data     TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX events_by_time ON events (time_ms);
CREATE INDEX events_by_kind ON events (kind, event_id);

CREATE TABLE breakers (
    name       TEXT PRIMARY KEY,
    tripped    INTEGER NOT NULL CHECK (tripped IN (0, 1)),
    reason     TEXT NOT NULL DEFAULT '',
    changed_ms INTEGER NOT NULL
);

CREATE TABLE component_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
