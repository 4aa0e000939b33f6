-- Nothing on SQLite: its searches read each hit's body from the table anyway, so an index that
-- covers res_id saves no visit. (The migration exists so that both backends share one history.)
SELECT 1;
