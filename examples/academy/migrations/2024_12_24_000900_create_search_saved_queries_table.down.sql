-- Removes the saved searches table.

DROP TABLE IF EXISTS search_saved_queries;
