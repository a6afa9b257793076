"""Call-record files as the exchanges write them (Asterisk Master.csv, a Chinese CSV export)."""

from __future__ import annotations


def asterisk_row(uniqueid: str, src: str, start: str, disposition: str, *, dstchannel: str = "SIP/8001-0000a1",
                 billsec: int = 60, lastapp: str = "Dial", answer: str | None = None, end: str | None = None) -> str:
    answer = answer if answer is not None else (start if disposition == "ANSWERED" else "")
    end = end or start
    clid = f'"" <{src}>'
    return ",".join(f'"{cell}"' for cell in (
        "", src, "12345", "from-trunk", clid, "SIP/trunk-0000001", dstchannel, lastapp, "SIP/8001,30,tT",
        start, answer, end, str(billsec + 5), str(billsec), disposition, "DOCUMENTATION", uniqueid, ""))


MASTER_CSV = "\n".join([
    asterisk_row("1764200000.1", "13812345678", "2026-11-27 09:00:00", "ANSWERED", end="2026-11-27 09:03:00"),
    asterisk_row("1764200000.2", "13900001111", "2026-11-27 09:05:00", "NO ANSWER", dstchannel="", billsec=0),
    asterisk_row("1764200000.3", "05376851890", "2026-11-27 09:06:00", "BUSY", dstchannel="", billsec=0),
    asterisk_row("1764200000.4", "6851891", "2026-11-27 09:07:00", "ANSWERED", dstchannel="", lastapp="Queue",
                 billsec=20),
    asterisk_row("1764200000.5", "8001", "2026-11-27 09:08:00", "ANSWERED"),
    asterisk_row("1764200000.6", "13812345678", "not a time", "ANSWERED"),
    '"","13812345678","12345","from-trunk"',
    asterisk_row("1764200000.7", "13700002222", "2026-11-27 09:09:00", "HUNG UP"),
    asterisk_row("1764200000.2", "13900001111", "2026-11-27 09:05:00", "NO ANSWER", dstchannel="", billsec=0),
    "",
    asterisk_row("1764200000.8", "", "2026-11-27 09:10:00", "NO ANSWER", dstchannel="", billsec=0),
    asterisk_row("1764200000.9", "13600003333", "2026-11-27 09:11:00", "ANSWERED", lastapp="VoiceMail",
                 dstchannel=""),
]) + "\n"

CHINESE_CSV = (
    "话单编号,来电号码,开始时间,接听状态,通话时长,坐席\n"
    "A-1,138 1234 5678,2026/11/27 10:00:00,已接听,120,8001\n"
    "A-2,0537-6851890,2026/11/27 10:05:00,未接听,0,\n"
    "A-3,13900001111,2026/11/27 10:06,放弃,0,\n"
    "A-4,13900001111,昨天上午,未接听,0,\n"
    "A-5,13900001111,2026/11/27 10:07:00,转接中,0,\n"
    ",13900001111,2026/11/27 10:08:00,未接听,0,\n"
    "A-2,0537-6851890,2026/11/27 10:05:00,未接听,0,\n"
)
