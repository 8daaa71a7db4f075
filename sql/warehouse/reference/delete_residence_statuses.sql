-- Reference data is replaced as a whole: clear the status master before inserting it again.
DELETE FROM residence_statuses
