-- Per-key limits that serve enforces (a rate limit, N/s|N/m|N/h, and an
-- allowlist of CIDRs; empty: any address), and the mark of a key imported
-- from another system, whose secret is not of apikey's format.
ALTER TABLE keys
    ADD COLUMN rate_limit  text,
    ADD COLUMN allowed_ips jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN legacy      boolean NOT NULL DEFAULT false;
