DROP TABLE account_guards;
