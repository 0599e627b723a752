-- Who a browser or a paired device acts as: the person a login or pairing code was made for
-- (a member of `[team]`, or the name of whoever made it), carried to the session it opens.
-- NULL: a session from before, acting as the instance that serves it.
ALTER TABLE login_codes ADD COLUMN person TEXT;
ALTER TABLE pairing_codes ADD COLUMN person TEXT;
ALTER TABLE sessions ADD COLUMN person TEXT;
