DROP TABLE rollbacks;
DROP TABLE redemptions;
