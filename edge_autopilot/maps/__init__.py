"""The road map the stack localises on and the simulator builds its world from."""
