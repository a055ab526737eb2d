CREATE INDEX lint_existing_note_index ON lint_existing (note);
