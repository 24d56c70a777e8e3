-- Migration: changes made with the command line are audited beside the console's (issue 23).

-- How a change was made: 'console' (every row so far) or 'cli'. For a 'cli' row, admin_email is
-- the system account that ran the command (with the sudo caller, if any) and admin_id is empty.
ALTER TABLE admin_audit ADD COLUMN via TEXT NOT NULL DEFAULT 'console';
