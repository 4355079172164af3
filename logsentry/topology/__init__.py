"""Scale-out on Kafka: stage 1 analyzes raw lines into keyed ECS events, stage 2 correlates them.

See the README (Kafka section) for the topology, and `logsentry.topology.config` for its settings.
"""
