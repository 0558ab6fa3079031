"""M-Bus (EN 13757-2/-3) and wireless M-Bus / OMS (EN 13757-4/-7) telegrams, decoded.

``decode`` (in :mod:`openamr.collect.mbus.telegram`) is the one entry point;
:mod:`openamr.collect.mbus.model` holds what it returns and raises.
"""

# Raised whenever the decoder learns to read telegrams it could not read before
# (a new family, a new data type): stored telegrams that failed under an older
# version are then tried again.
DECODER_VERSION = 1
