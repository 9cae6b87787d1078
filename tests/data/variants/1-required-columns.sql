-- Variant 1: the app added NOT NULL columns without defaults, one of every
-- type family, to stories, chapters, scenes and community_posts. The
-- canonical seed file must work unchanged: every value is inferred.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['stories', 'chapters', 'scenes', 'community_posts'] LOOP
    EXECUTE format('ALTER TABLE %I
      ADD COLUMN moral_text text NOT NULL,
      ADD COLUMN age_rating varchar(4) NOT NULL,
      ADD COLUMN word_goal integer NOT NULL,
      ADD COLUMN budget numeric(10, 2) NOT NULL,
      ADD COLUMN is_featured boolean NOT NULL,
      ADD COLUMN audience_tone tone NOT NULL,
      ADD COLUMN meta json NOT NULL,
      ADD COLUMN meta_b jsonb NOT NULL,
      ADD COLUMN launch_at timestamp NOT NULL,
      ADD COLUMN launch_on date NOT NULL,
      ADD COLUMN ref_uuid uuid NOT NULL,
      ADD COLUMN labels text[] NOT NULL', t);
  END LOOP;
END $$;
