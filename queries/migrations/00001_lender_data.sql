-- The lender's data: borrowers, their loans and the loans' installments, plus
-- the optional inputs the contact policy honours (per-borrower quiet windows
-- and regional holidays). A lender with its own schema replaces these tables
-- with views of the same names and columns.

-- +goose Up
CREATE TABLE borrowers (
    id             bigint PRIMARY KEY,
    full_name      text    NOT NULL,
    phone          text,                 -- E.164 or national format
    email          text,
    locale         text    NOT NULL DEFAULT 'zh-CN',
    time_zone      text,                 -- IANA name, or null when unknown
    region         text,                 -- ISO 3166-2 (US-FL, CN-31), or null
    sms_opt_out    boolean NOT NULL DEFAULT false,
    email_opt_out  boolean NOT NULL DEFAULT false,
    do_not_contact boolean NOT NULL DEFAULT false
);

CREATE TABLE loans (
    id          bigint  PRIMARY KEY,
    borrower_id bigint  NOT NULL REFERENCES borrowers (id),
    account_ref text    NOT NULL,
    currency    char(3) NOT NULL CONSTRAINT loans_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    status      text    NOT NULL          -- active, paid_off, charged_off, disputed, bankrupt, deceased
);
CREATE INDEX loans_borrower_id_idx ON loans (borrower_id);

CREATE TABLE installments (
    id                bigint PRIMARY KEY,
    loan_id           bigint NOT NULL REFERENCES loans (id),
    seq               int    NOT NULL CONSTRAINT installments_seq_positive CHECK (seq > 0),
    due_date          date   NOT NULL,
    amount_due_minor  bigint NOT NULL CONSTRAINT installments_amount_due_nonnegative CHECK (amount_due_minor >= 0),
    amount_paid_minor bigint NOT NULL DEFAULT 0 CONSTRAINT installments_amount_paid_nonnegative CHECK (amount_paid_minor >= 0),
    CONSTRAINT installments_loan_seq_key UNIQUE (loan_id, seq)
);
-- The selection reads unpaid installments by due date. The predicate is the
-- one the candidate query uses, so that the planner can use this index; it
-- also admits negative amounts, which a lender's view may hold and which the
-- job reports as skipped rather than ignoring. It carries every column the
-- query reads, so the selection never visits the table (an index-only scan
-- takes a third off the query at a million borrowers). A lender mapping its
-- own schema should give its installments the same index.
CREATE INDEX installments_open_due_date_idx ON installments (due_date)
    INCLUDE (id, loan_id, seq, amount_due_minor, amount_paid_minor)
    WHERE amount_paid_minor < amount_due_minor OR amount_due_minor < 0 OR amount_paid_minor < 0;

-- Times a borrower asked not to be contacted (Reg F comment 6(b)(1)-1), in
-- the borrower's local time. weekdays: 0 = Sunday … 6 = Saturday, null =
-- every day. A window whose end is before its start crosses midnight; 24:00
-- ends at midnight. valid_from and valid_to bound it by date, inclusive.
CREATE TABLE borrower_quiet_windows (
    id          bigserial PRIMARY KEY,
    borrower_id bigint   NOT NULL REFERENCES borrowers (id),
    weekdays    smallint[] CONSTRAINT borrower_quiet_windows_weekdays_range CHECK (weekdays <@ ARRAY[0,1,2,3,4,5,6]::smallint[]),
    starts_at   time     NOT NULL DEFAULT '00:00',
    ends_at     time     NOT NULL DEFAULT '24:00',
    valid_from  date,
    valid_to    date,
    note        text,
    CONSTRAINT borrower_quiet_windows_opens CHECK (starts_at <> ends_at),
    CONSTRAINT borrower_quiet_windows_dates CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to)
);
CREATE INDEX borrower_quiet_windows_borrower_id_idx ON borrower_quiet_windows (borrower_id);

-- Whole days on which no reminder is sent in a region: ISO 3166-2 (US-FL)
-- or a country (CN) for the whole country.
CREATE TABLE holidays (
    region text NOT NULL,
    date   date NOT NULL,
    name   text NOT NULL DEFAULT '',
    PRIMARY KEY (region, date)
);

-- +goose Down
DROP TABLE holidays;
DROP TABLE borrower_quiet_windows;
DROP TABLE installments;
DROP TABLE loans;
DROP TABLE borrowers;
