-- Operators manage users after day one (gpt-todo user disable|enable|unlock).
-- disabled_at: unix seconds; a disabled user's tokens stop working at once and sign-in is refused.
-- unlocked_at: unix seconds of the last `user unlock`; a sign-in lockout that began before it is lifted.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN unlocked_at INTEGER;
