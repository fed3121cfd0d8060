"""medvlp."""
