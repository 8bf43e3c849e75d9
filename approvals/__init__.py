"""Two-person approval (maker-checker): a connection's rule holds chosen actions until a second person approves."""
