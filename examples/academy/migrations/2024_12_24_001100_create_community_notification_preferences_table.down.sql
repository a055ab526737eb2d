-- Removes the notification preferences table.

DROP TABLE IF EXISTS community_notification_preferences;
