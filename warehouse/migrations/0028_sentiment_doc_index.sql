-- A document's labels by its id alone: the primary key (doc_id, model_version) does not
-- serve a lookup of a list of ids, so a customer's timeline (a few hundred documents)
-- scanned every label in the warehouse.
CREATE INDEX doc_sentiment_doc ON doc_sentiment (doc_id);
