-- A member of staff who left, or whose account may be compromised, is disabled rather than
-- deleted: the audit log and campaign approvals keep naming them. NULL: may sign in.
ALTER TABLE staff ADD COLUMN disabled_at timestamptz;
