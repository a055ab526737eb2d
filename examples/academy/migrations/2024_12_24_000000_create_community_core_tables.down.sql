-- Removes the core community tables, children before the tables they point to.

DROP TABLE IF EXISTS communities;

DROP TABLE IF EXISTS community_categories;

DROP TABLE IF EXISTS geo_places;
