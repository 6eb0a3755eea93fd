"""streams.testing.kafka.MockKafkaCluster: a real Kafka-protocol broker in-process."""

import time

from confluent_kafka import Consumer, KafkaError, Producer


def consume(bootstrap, topic, n, timeout=15.0):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{topic}",
            "auto.offset.reset": "earliest",
            "log_level": 0,
        }
    )
    consumer.subscribe([topic])
    got, deadline = [], time.monotonic() + timeout
    try:
        while len(got) < n and time.monotonic() < deadline:
            message = consumer.poll(0.1)
            if message is not None and not message.error():
                got.append((message.partition(), message.value()))
    finally:
        consumer.close()
    return got


def test_produce_and_consume_through_the_mock_cluster(kafka_cluster):
    kafka_cluster.create_topic("readings", partitions=3)
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap_servers, "log_level": 0})
    for i in range(6):
        producer.produce("readings", str(i).encode(), partition=i % 3)
    assert producer.flush(10) == 0
    got = consume(kafka_cluster.bootstrap_servers, "readings", 6)
    assert sorted(got) == sorted((i % 3, str(i).encode()) for i in range(6))


def test_broker_down_makes_produce_fail_until_it_is_back(kafka_cluster):
    kafka_cluster.create_topic("t")
    producer = Producer(
        {
            "bootstrap.servers": kafka_cluster.bootstrap_servers,
            "log_level": 0,
            "message.timeout.ms": 300,
        }
    )
    kafka_cluster.broker_down(1)
    errors = []
    producer.produce("t", b"x", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(5)
    assert errors and errors[0].code() == KafkaError._MSG_TIMED_OUT
    kafka_cluster.broker_up(1)
    delivered = []
    producer.produce("t", b"y", on_delivery=lambda err, msg: delivered.append(err))
    producer.flush(10)
    assert delivered == [None]
