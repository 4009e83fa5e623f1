"""metagate.proxy"""
