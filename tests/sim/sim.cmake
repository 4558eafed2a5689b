# The simulator library, the velocity-sim tool and the seed suites.
