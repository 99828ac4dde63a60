-- The keys imported from another system (legacy), in an index of their own:
-- a server counts them after every change, to know whether a secret that is
-- not of apikey's format can be anyone's, and the count reads this index
-- alone, however many other keys there are.
CREATE INDEX keys_legacy ON keys (id) WHERE legacy;

-- An import finds the events the store holds already by their time: an
-- event of a file is the same as a stored one of the same time, actor,
-- action, company and key.
CREATE INDEX events_by_at ON events (at);
