"""A Pinterest-style news feed: users pin, followers read, the author sees notifications.

A Manager fans every pin out to the feeds of the author's followers (active followers
first), a follow copies the followed user's pins, an unfollow removes them, and a
notification count is pushed live to a sink as other users love a pin.

Run it with ``python examples/newsfeed.py`` (feeds in memory) or
``python examples/newsfeed.py --redis redis://127.0.0.1:6379/0`` (feeds in Redis; the
keys it uses are deleted first).
"""

import argparse
from datetime import datetime, timedelta
from urllib.parse import urlparse

from streams.feeds import (
    Activity,
    Add,
    AggregatedFeed,
    FanoutPriority,
    Love,
    Manager,
    MemoryFeed,
    NotificationFeed,
    RedisAggregatedFeed,
    RedisFeed,
    RedisNotificationFeed,
    UserBaseFeed,
    settings,
)

USERS = {1: "alice", 2: "bob", 3: "carol", 4: "dave"}
FOLLOWERS = {1: {2, 3}, 2: {1, 3}, 3: {1}, 4: set()}  # who follows whom: user -> followers
ACTIVE = {3}  # carol logged in today: her feed is written first
START = datetime(2024, 5, 1, 9, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", metavar="URL", help="keep the feeds in this Redis")
    args = parser.parse_args()
    if args.redis:
        url = urlparse(args.redis)
        db = int(url.path.strip("/") or 0)
        settings.STREAM_REDIS_CONFIG = {
            "default": {"host": url.hostname, "port": url.port or 6379, "db": db}
        }
        flat, aggregated, notification = RedisFeed, RedisAggregatedFeed, RedisNotificationFeed
    else:
        flat, aggregated, notification = MemoryFeed, AggregatedFeed, NotificationFeed

    class UserFeed(UserBaseFeed, flat):  # type: ignore[misc, valid-type]
        pass

    class PinManager(Manager):
        feed_classes = {"normal": flat, "aggregated": aggregated}  # noqa: RUF012
        user_feed_class = UserFeed

        def get_user_follower_ids(self, user_id):
            followers = sorted(FOLLOWERS[user_id])
            return {
                FanoutPriority.HIGH: [f for f in followers if f in ACTIVE],
                FanoutPriority.LOW: [f for f in followers if f not in ACTIVE],
            }

    for feed_class in (UserFeed, flat, aggregated):
        feed_class.flush()
    manager = PinManager()

    def pin(user, item, minutes, verb=Add):
        return Activity(user, verb, item, time=START + timedelta(minutes=minutes))

    pins = [pin(1, 101, 0), pin(2, 201, 1), pin(1, 102, 2), pin(3, 301, 3), pin(4, 401, 4)]
    for activity in pins:
        manager.add_user_activity(activity.actor_id, activity)  # returns once fanned out
    print(f"{len(pins)} pins fanned out")

    def show(user_id):
        feed = manager.get_feeds(user_id)["normal"]
        items = [f"{USERS[a.actor_id]}:{a.object_id}" for a in feed[:25]]
        print(f"{USERS[user_id]} reads {items}")

    for user_id in (1, 2, 3):
        show(user_id)

    FOLLOWERS[4].add(2)  # bob follows dave: dave's pins are copied into bob's feeds
    manager.follow_user(2, 4)
    show(2)
    FOLLOWERS[1].discard(3)  # carol unfollows alice: alice's pins leave carol's feeds
    manager.unfollow_user(3, 1)
    show(3)

    grouped = manager.get_feeds(3)["aggregated"][0]
    print(f"carol's aggregated feed: {grouped.activity_count} pins by {grouped.actor_ids}")

    # alice's notifications (no fan-out: one reader), their count pushed live to a sink
    alerts = notification(1)
    alerts.delete()
    counts = alerts.updates()
    counts.sink(lambda c: print(f"  live: alice has {c['unseen_count']} unseen notifications"))
    counts.start()
    for minutes, (fan, item) in enumerate(((2, 102), (3, 101), (4, 102)), start=10):
        alerts.add(pin(fan, item, minutes, verb=Love))
    alerts.mark_all(seen=True)  # alice opens her notifications
    counts.stop()
    counts.wait()
    newest = alerts[0]
    print(f"alice: {newest.actor_count} people loved pin {newest.object_ids[0]}")
    print(f"alice after reading: {alerts.get_notification_data()}")
    manager.close()


if __name__ == "__main__":
    main()
