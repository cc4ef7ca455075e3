"""The words every map shows, in Thai and English: labels, titles, legend words, Gi* classes.

Plain dictionaries, so that a caller can name a map's title without loading Folium.
"""

from __future__ import annotations

#: Shown on every map: words in Thai and English.
WORDS: dict[str, dict[str, str]] = {
    "th": {
        "boundary": "ขอบเขตพื้นที่",
        "no_data": "ไม่มีข้อมูล / ปกปิด",
        "area": "พื้นที่",
        "search": "ค้นหาพื้นที่",
        "areas": "พื้นที่ย่อย",
        "low": "น้อย",
        "high": "มาก",
        "households": "ครัวเรือน",
        "problems": "ปัญหา",
        "score": "คะแนน",
        "rank": "ลำดับ",
        "fallback": "จุดมากเกินไป ({n:,} > {cap:,}): แสดงเป็นรูปหกเหลี่ยมแทน",
        "hexagons": "รูปหกเหลี่ยม H3",
        "heat": "ความหนาแน่นของปัญหา",
        "hotspots": "จุดร้อน/จุดเย็น (Gi*)",
        "raster": "แรสเตอร์",
        "class": "ประเภท",
        "per_1000": "ต่อ 1,000 ครัวเรือน",
        "value": "ค่า",
    },
    "en": {
        "boundary": "Area boundary",
        "no_data": "No data / hidden",
        "area": "Area",
        "search": "Find an area",
        "areas": "Areas within",
        "low": "low",
        "high": "high",
        "households": "Households",
        "problems": "Problems",
        "score": "Score",
        "rank": "Rank",
        "fallback": "Too many points ({n:,} > {cap:,}): shown as hexagons instead",
        "hexagons": "H3 hexagons",
        "heat": "Problem density",
        "hotspots": "Hot and cold spots (Gi*)",
        "raster": "Raster",
        "class": "Class",
        "per_1000": "per 1,000 households",
        "value": "Value",
    },
}
#: The Gi* classes as legends and tooltips name them.
GI_LABELS = {
    "th": {
        "hot_99": "จุดร้อน 99 %",
        "hot_95": "จุดร้อน 95 %",
        "hot_90": "จุดร้อน 90 %",
        "not_significant": "ไม่มีนัยสำคัญ",
        "cold_90": "จุดเย็น 90 %",
        "cold_95": "จุดเย็น 95 %",
        "cold_99": "จุดเย็น 99 %",
    },
    "en": {
        "hot_99": "Hot spot 99 %",
        "hot_95": "Hot spot 95 %",
        "hot_90": "Hot spot 90 %",
        "not_significant": "Not significant",
        "cold_90": "Cold spot 90 %",
        "cold_95": "Cold spot 95 %",
        "cold_99": "Cold spot 99 %",
    },
}
