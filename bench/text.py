"""Help desk prose for the bench: subjects, descriptions and replies from a small IT
vocabulary, with word frequencies skewed as in real tickets (a few words everywhere, most
words rare), so full-text search meets both selective and common terms.

Sentences are drawn once into pools; each ticket then picks from the pools, which keeps
text generation cheap at a million tickets. Two words are planted at known rates so the
bench can search for them: COMMON_WORD (in roughly a third of tickets) and
SELECTIVE_WORD (in about one ticket in two thousand). Neither appears in the pools.
"""

import itertools
import random

COMMON_WORD = "password"
SELECTIVE_WORD = "kerberos"
SELECTIVE_RATE = 0.0005  # share of tickets whose description names SELECTIVE_WORD
COMMON_RATE = 0.15  # share of descriptions that mention COMMON_WORD (subjects add more)

# Most frequent first: the draw weights fall off as 1/rank (Zipf).
NOUNS = [
    "laptop", "printer", "vpn", "wi-fi", "outlook", "teams", "screen", "account", "mailbox",
    "monitor", "dock", "keyboard", "browser", "phone", "sharepoint", "drive", "folder",
    "network", "server", "licence", "headset", "mouse", "calendar", "update", "certificate",
    "firewall", "router", "switch", "database", "backup", "permission", "group", "policy",
    "driver", "firmware", "battery", "charger", "cable", "adapter", "projector", "scanner",
    "toner", "badge", "extension", "desk", "tablet", "camera", "microphone", "speaker",
    "onedrive", "excel", "word", "powerpoint", "onenote", "chrome", "firefox", "edge",
    "citrix", "sap", "salesforce", "jira", "confluence", "zoom", "webex", "slack", "dns",
    "dhcp", "proxy", "gateway", "bitlocker", "intune", "autopilot", "tenant", "domain",
    "controller", "share", "quota", "archive", "ticket", "invoice", "payroll", "timesheet",
    "expense", "login", "session", "profile", "cache", "cookie", "token", "smartcard", "fob",
    "keypad", "kiosk", "terminal", "till", "barcode", "label", "plotter", "fax", "modem",
    "antenna", "hotspot", "bluetooth", "usb", "hdmi", "displayport", "thunderbolt", "ssd",
    "ram", "cpu", "fan", "bios", "uefi", "bootloader", "kernel", "patch", "hotfix", "rollout",
    "migration", "pilot", "sandbox", "staging", "backlog", "runbook", "wiki", "handbook",
]  # fmt: skip

VERBS = [
    "fails", "freezes", "crashes", "hangs", "disconnects", "reboots", "stalls", "stutters",
    "flickers", "overheats", "beeps", "lags", "drops", "times-out", "locks", "blocks",
    "rejects", "ignores", "duplicates", "corrupts", "loses",
]  # fmt: skip

CONTEXTS = [
    "since this morning",
    "after the last update",
    "every few minutes",
    "only on the second floor",
    "when I dock the laptop",
    "while on the vpn",
    "after lunch",
    "on Mondays",
    "since the office move",
    "for the whole team",
    "only for new starters",
    "at random",
    "when the meeting starts",
    "after I changed desks",
    "when printing large files",
    "when working from home",
]

SUBJECTS = [
    "Laptop will not connect to Wi-Fi",
    "Password reset for {who}",
    "VPN drops every few minutes",
    "Printer on floor {n} jams",
    "New starter needs accounts",
    "Outlook keeps asking for a password",
    "Cannot open shared drive",
    "Request access to the {noun} app",
    "Screen flickers after docking",
    "Phone extension not ringing",
    "{Noun} {verb} {context}",
    "{Noun} {verb} {context}",
    "{Noun} {verb} {context}",
    "Need a new {noun}",
    "{Noun} is slow",
    "Question about the {noun}",
]

AGENT_OPENERS = [
    "Thanks, we are on it.",
    "Thanks for the details.",
    "Sorry for the trouble.",
    "We have seen this before.",
    "Following up on your ticket.",
]
AGENT_ASKS = [
    "Could you sign out and sign in again and tell us if it helps?",
    "Could you send a screenshot of the error?",
    "Please restart the {noun} and try again.",
    "We have pushed a fix to the {noun}; please check.",
    "Is the {noun} plugged into the {noun2}?",
    "Which {noun} are you using?",
]
NOTE_OPENERS = [
    "Checked the logs:",
    "Looks like the known issue:",
    "Escalated to second line:",
    "Vendor case opened:",
    "Same as last week:",
]
CALL_OPENERS = ["Called the requester:", "Caller rang back:", "Phoned {who}:"]


class Prose:
    """Pools of sentences drawn with `rng`; every method is cheap enough to call millions
    of times."""

    def __init__(self, rng: random.Random, pool_size: int = 4000):
        self.rng = rng
        weights = list(itertools.accumulate(1 / rank for rank in range(1, len(NOUNS) + 1)))
        self._noun_weights = weights
        self.sentences = [self._sentence() for _ in range(pool_size)]
        self.subjects = [self._subject() for _ in range(pool_size)]
        self.replies = [self._reply() for _ in range(pool_size)]
        self.notes = [self._note() for _ in range(pool_size // 2)]
        self.calls = [self._call() for _ in range(pool_size // 4)]
        for pool in (self.sentences, self.subjects, self.replies, self.notes, self.calls):
            assert not any(SELECTIVE_WORD in text or COMMON_WORD in text.lower() for text in pool)

    def noun(self) -> str:
        return self.rng.choices(NOUNS, cum_weights=self._noun_weights)[0]

    def _sentence(self) -> str:
        rng = self.rng
        shapes = [
            "The {noun} {verb} {context}.",
            "My {noun} {verb} {context}, and the {noun2} too.",
            "I cannot use the {noun} because the {noun2} {verb}.",
            "The {noun} shows an error about the {noun2}.",
            "Colleagues say their {noun} {verb} as well.",
            "I tried another {noun}, no change.",
        ]
        return rng.choice(shapes).format(
            noun=self.noun(),
            noun2=self.noun(),
            verb=rng.choice(VERBS),
            context=rng.choice(CONTEXTS),
        )

    def _subject(self) -> str:
        rng = self.rng
        noun = self.noun()
        subject = rng.choice(SUBJECTS)
        if "password" in subject.lower():
            subject = "{Noun} {verb} {context}"
        return subject.format(
            who="{who}",
            n=rng.randint(1, 5),
            noun=noun,
            Noun=noun[:1].upper() + noun[1:],
            verb=rng.choice(VERBS),
            context=rng.choice(CONTEXTS),
        )

    def _reply(self) -> str:
        rng = self.rng
        ask = rng.choice(AGENT_ASKS).format(noun=self.noun(), noun2=self.noun())
        return f"{rng.choice(AGENT_OPENERS)} {self._sentence()}\n\n{ask}"

    def _note(self) -> str:
        return f"{self.rng.choice(NOTE_OPENERS)} {self._sentence()} {self._sentence()}"

    def _call(self) -> str:
        return f"{self.rng.choice(CALL_OPENERS)} {self._sentence()}"

    def subject(self, who: str) -> str:
        rng = self.rng
        if rng.random() < 0.2:
            # The classic one: most help desks see it every day.
            return rng.choice(
                ["Password reset for {who}", "Outlook keeps asking for a password"]
            ).format(who=who)
        return rng.choice(self.subjects).replace("{who}", who)

    def description(self, who: str) -> str:
        rng = self.rng
        body = " ".join(rng.choice(self.sentences) for _ in range(rng.randint(2, 4)))
        if rng.random() < COMMON_RATE:
            body += " It also keeps asking for my password."
        if rng.random() < SELECTIVE_RATE:
            body += f" The event log names {SELECTIVE_WORD} as the source."
        return (
            f"Hello,\n\n{body}\n\n- seen on my desk PC\n- colleagues see it too\n\nThanks,\n{who}"
        )

    def reply(self) -> str:
        return self.rng.choice(self.replies)

    def note(self) -> str:
        return self.rng.choice(self.notes)

    def call(self, who: str) -> str:
        return self.rng.choice(self.calls).replace("{who}", who)

    def requester_reply(self, who: str) -> str:
        return f"{self.rng.choice(self.sentences)}\n\nThanks,\n{who}"
