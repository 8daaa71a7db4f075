-- Reference data is replaced as a whole: clear the rule catalog before inserting it again.
DELETE FROM rules
