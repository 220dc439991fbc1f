def test_a_part_never_ends_on_a_lone_heading_and_english_reads_in_longer_parts():
    from datetime import date

    from bot.core.library import Article, Review

    body = "\n\n".join(["第一段" * 30, "### 小标题", "第二段" * 30, "第三段" * 30])
    review = Review("approved", "内容组", date(2026, 12, 2))
    article = Article("zh-x-y", "标题", "zh", ("parent",), ("stress",), "摘要", ("来源",), review, body)
    for part in article.parts(size=100):
        assert not part.split("\n\n")[-1].startswith("###")
    assert any(part.startswith("### 小标题\n\n第二段") for part in article.parts(size=100))
    english = Article("en-x-y", "T", "en", ("parent",), ("stress",), "S", ("src",), review, ("word " * 50 + "\n\n") * 6)
    assert len(english.parts()) < len(english.parts(size=220))
