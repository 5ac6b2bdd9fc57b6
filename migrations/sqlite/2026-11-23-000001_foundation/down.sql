DROP TABLE tokens;
DROP TABLE client_logos;
DROP TABLE clients;
DROP TABLE users;
DROP TABLE settings;
