pragma circom 2.1.0;
include "fraud_only.circom";
component main {public [root, commitment]} = FraudOnly(32);
