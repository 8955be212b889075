"""The live cloud through openstacksdk: `apply` (diff and change) and `audit` (rules)."""
