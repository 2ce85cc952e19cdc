-- Pages that were a login wall, a verification (captcha) page or a rate-limit answer.
ALTER TABLE source_runs ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
