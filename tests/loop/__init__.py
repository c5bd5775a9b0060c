"""Tests of the Loop API client and its request budget."""
