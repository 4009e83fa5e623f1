"""metagate.policies"""
