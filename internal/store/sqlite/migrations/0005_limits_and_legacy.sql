-- Per-key limits that serve enforces (a rate limit, N/s|N/m|N/h, and an
-- allowlist of CIDRs as a JSON array; empty: any address), and the mark of a
-- key imported from another system, whose secret is not of apikey's format.
ALTER TABLE keys ADD COLUMN rate_limit TEXT;
ALTER TABLE keys ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '[]';
ALTER TABLE keys ADD COLUMN legacy INTEGER NOT NULL DEFAULT 0;
