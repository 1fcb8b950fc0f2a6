"""Small talk and politeness, traditional Chinese in and out, English: short natural answers."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import text as sql

from bot.text import to_traditional
from tests.harness import Gateway


async def test_greetings_thanks_goodbyes_and_laughter(gateway: Gateway) -> None:
    await gateway.dialog(
        "o-talk-1",
        [
            ("你好", "care.greeting"),
            ("在吗？", "care.greeting"),
            ("谢谢！", "care.thanks"),
            ("哈哈哈哈哈", "care.laugh"),
            ("笑死我了", "care.laugh"),
            ("好的", "care.ok"),
            ("收到", "care.received"),
            ("拜拜", "care.bye"),
            ("取消", "care.nothing_to_cancel"),
            ("帮助", "help.main"),
        ],
    )


async def test_emoji_and_wechat_faces_get_a_friendly_word_and_are_not_kept_as_questions(gateway: Gateway) -> None:
    """「👍」「[微笑]」「/::)」 carry no question: a short friendly answer, nothing kept for staff."""
    for said in ("👍", "👍👍", "❤️", "[微笑]", "[强][强]", "/::)", "🙏 🙏"):
        await gateway.dialog("o-talk-faces", [(said, "care.faces")])
    await gateway.dialog("o-talk-faces", [("？？", "help.main")])
    async with gateway.db.session() as s:
        kept = (await s.execute(sql("SELECT count(*) FROM care_unanswered"))).scalar_one()
    assert kept == 0


async def test_a_bare_sign_up_word_asks_which_programme(gateway: Gateway) -> None:
    """「报名」 with no class or project just shown: which programme, and how each one signs up."""
    for said in ("报名", "我要报名", "报个名"):
        await gateway.dialog("o-talk-signup", [(said, "care.which_sign_up")])


async def test_cancel_inside_a_flow_still_cancels_it(gateway: Gateway) -> None:
    streets = gateway.services.content.streets
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(streets, 1))
    await gateway.dialog(
        "o-talk-2",
        [
            ("设置街道", "profile.ask_street", {"streets": numbered}),
            ("取消", "system.cancelled"),
            ("取消", "care.nothing_to_cancel"),
        ],
    )


async def test_traditional_chinese_is_understood_and_answered_in_traditional(gateway: Gateway) -> None:
    content = gateway.services.content
    hours_answer = next(e.answer for e in content.faq if e.id == "volunteer.hours")
    answer = await gateway.say("o-talk-3", "志願時長怎麼查")
    assert answer.text == to_traditional(hours_answer)
    assert answer.text != hours_answer  # it really is converted
    signup = (await gateway.say("o-talk-6", "我想报名夜校")).text  # the night school answers it
    assert (await gateway.say("o-talk-3", "我想報名夜校")).text == to_traditional(signup)
    # A simplified writer on the same account still reads simplified.
    assert (await gateway.say("o-talk-4", "志愿时长怎么查")).text == hours_answer
    # Choices are converted too, with what they send back: tapping one keeps the answer traditional.
    answer = await gateway.say("o-talk-3", "志願者保險怎麼辦")
    tapped = to_traditional("怎么成为志愿者")
    assert quote(tapped, safe="") in answer.text
    join = next(e.answer for e in content.faq if e.id == "volunteer.join")
    assert (await gateway.say("o-talk-3", tapped)).text == to_traditional(join)


async def test_a_traditional_writer_picking_a_number_still_reads_traditional(gateway: Gateway) -> None:
    streets = gateway.services.content.streets
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(streets, 1))
    asked = await gateway.say("o-hant-1", "設置街道")
    assert asked.text == to_traditional(gateway.expected("profile.ask_street", streets=numbered))
    # 「4」 has no Han character: the conversation keeps the script it had.
    saved = await gateway.say("o-hant-1", "4")
    assert saved.text == to_traditional(gateway.expected("profile.street_saved", street=streets[3]))
    assert saved.text != gateway.expected("profile.street_saved", street=streets[3])
    # After the flow, and with characters both scripts share (「好的」), still traditional.
    assert (await gateway.say("o-hant-1", "好的")).text == to_traditional(gateway.expected("care.ok"))
    assert (await gateway.say("o-hant-1", "ok")).text == to_traditional(gateway.expected("care.ok"))
    # Writing simplified switches back.
    assert (await gateway.say("o-hant-1", "谢谢")).text == gateway.expected("care.thanks")
    assert (await gateway.say("o-hant-1", "ok")).text == gateway.expected("care.ok")
    # Another person who only ever sends digits reads simplified.
    streets_asked = await gateway.say("o-hant-2", "设置街道")
    assert streets_asked.text == gateway.expected("profile.ask_street", streets=numbered)
    assert (await gateway.say("o-hant-2", "4")).text == gateway.expected("profile.street_saved", street=streets[3])


async def test_english_gets_a_short_english_answer(gateway: Gateway) -> None:
    for text in ("Hello, can you speak English?", "How do I join the night school", "internship"):
        answer = await gateway.say("o-talk-5", text)
        assert answer.text == gateway.expected("care.english"), text
    assert (await gateway.say("o-talk-5", "ok")).text == gateway.expected("care.ok")
    assert (await gateway.say("o-talk-5", "https://mp.weixin.qq.com/s/abc")).text != gateway.expected("care.english")
    assert (await gateway.say("o-talk-5", "hi")).text == gateway.expected("care.greeting")


async def test_a_low_mood_gets_a_gentle_answer_with_the_hotline(gateway: Gateway) -> None:
    answer = await gateway.say("o-talk-6", "最近心情不好")
    assert answer.text == gateway.expected("care.low_mood") and "12355" in answer.text


def test_traditional_replies_use_hong_kong_forms_and_keep_the_district_names() -> None:
    assert to_traditional("为你负责店铺首页设计，回复序号看详情") == "為你負責店鋪首頁設計，回覆序號看詳情"
    assert to_traditional("坪地志愿港湾服务队") == "坪地志願港灣服務隊"  # not 坪地誌願 (a gazetteer)
    assert to_traditional("签到请回复「签到」，签退回复「签退」") == "簽到請回覆「簽到」，簽退回覆「簽退」"


def test_every_button_word_comes_back_as_itself_after_a_traditional_tap() -> None:
    """A traditional reader's button sends the word in traditional; folded back it must be the
    word the route knows, for every command word, FAQ question and street."""
    from bot.content import load_content
    from bot.text import to_simplified

    content = load_content(None)
    words = [w for ws in content.commands.values() for w in ws]
    words += [q for e in content.faq for q in (e.question, *e.examples)] + list(content.streets)
    changed = {w: to_simplified(to_traditional(w)) for w in words if to_simplified(to_traditional(w)) != w}
    assert changed == {}
