"""metagate.scanner"""
