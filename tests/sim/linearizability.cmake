# The linearizability checker (linearizability.hpp) and its tests.
