-- Each survey response's customer and that customer's segment on the day it was submitted
-- (rebuilt with doc_customers by warehouse.customers.link_documents). No row = not linked.
-- IF NOT EXISTS: warehouses built by earlier benchmark generators already have this table
-- (same columns).
CREATE TABLE IF NOT EXISTS response_customers (
    response_id   VARCHAR PRIMARY KEY,
    customer_id   VARCHAR NOT NULL,
    segment       VARCHAR,
    province      VARCHAR,
    city          VARCHAR,
    acquisition   VARCHAR,
    owner         VARCHAR
);
CREATE INDEX IF NOT EXISTS response_customers_customer ON response_customers (customer_id);

-- How far the links are built: the number of customer/uid imports they reflect. An import
-- since then means a full rebuild; otherwise only new documents are linked.
CREATE TABLE customer_link_state (
    target        VARCHAR PRIMARY KEY,    -- links
    n_imports     INTEGER NOT NULL,
    linked_at     TIMESTAMPTZ NOT NULL
);
