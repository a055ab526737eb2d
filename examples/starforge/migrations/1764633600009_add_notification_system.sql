-- Seed 001's example change, 009_add_notification_system (risk: medium): in-app notifications per user.
-- Up Migration
CREATE TABLE notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type varchar(50) NOT NULL,
    title text NOT NULL,
    body text,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    read_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_created_idx ON notifications (user_id, created_at DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;
ALTER TABLE users ADD COLUMN notifications_enabled boolean NOT NULL DEFAULT true;

-- Down Migration
ALTER TABLE users DROP COLUMN notifications_enabled;
DROP TABLE notifications;
