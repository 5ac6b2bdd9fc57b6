-- Claims a consent app adds to the tokens of a grant: {"access_token": {…}, "id_token": {…}}.
ALTER TABLE grants ADD COLUMN session_claims TEXT;
