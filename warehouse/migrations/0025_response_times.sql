-- Response times the sources themselves record (warehouse.response_times): a helpdesk
-- ticket's first reply and resolution from Zendesk's metric_sets side-load, a customer
-- mail's first reply from our own domain, a complaint platform's 商家回复 and 已完成 steps.

-- Mails from our own domains (mailbox option our_domains) that answer customers' mails.
-- Kept apart from raw_documents: they are not customer voices, and a reply usually comes
-- in a later run than the mail it answers.
CREATE TABLE mail_replies (
    message_id    VARCHAR PRIMARY KEY,   -- the reply's Message-ID
    source        VARCHAR NOT NULL,      -- the mailbox source that read it
    replied_at    TIMESTAMPTZ NOT NULL,
    replier       VARCHAR,               -- our sender's address (staff, never a customer)
    refs          VARCHAR[] NOT NULL,    -- Message-IDs it answers (In-Reply-To, References)
    first_run_id  VARCHAR NOT NULL,
    last_run_id   VARCHAR NOT NULL
);

-- One row per voice whose source tracks responses (attribute response_origin), rebuilt
-- for a source's voices each time the source is loaded. NULL first_response_at: no
-- response yet; NULL resolved_at: not resolved (or the source has no resolution, mail).
CREATE TABLE doc_response_times (
    doc_id                           VARCHAR PRIMARY KEY,
    source                           VARCHAR NOT NULL,
    channel                          VARCHAR NOT NULL,
    opened_at                        TIMESTAMPTZ NOT NULL,
    first_response_at                TIMESTAMPTZ,
    resolved_at                      TIMESTAMPTZ,
    first_response_minutes           DOUBLE,   -- calendar minutes
    resolution_minutes               DOUBLE,   -- calendar minutes to the (latest) resolution
    first_resolution_minutes         DOUBLE,   -- Zendesk: to the first solve (reopens)
    business_first_response_minutes  DOUBLE,   -- Zendesk's business-hours minutes
    business_resolution_minutes      DOUBLE,
    responder                        VARCHAR,  -- Zendesk assignee id / our mail address
    origin                           VARCHAR NOT NULL  -- zendesk_metrics / mail_thread / complaint_steps
);
CREATE INDEX doc_response_times_source ON doc_response_times (source);
