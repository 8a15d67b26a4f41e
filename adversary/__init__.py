"""Byzantine behaviours and benign faults, acting on honest cores only through messages."""
