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
        "cases": "เรื่องที่ส่งต่อ",
        "offices": "หน่วยงานที่รับเรื่อง",
        "overdue": "เกินกำหนด",
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
        "cases": "Cases",
        "offices": "Offices",
        "overdue": "Overdue",
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
SOURCES = {
    "th": [
        "ขอบเขต: OCHA COD-AB ประเทศไทย (CC BY-IGO 3.0)",
        "ข้อมูลสำรวจ: สังเคราะห์ (SYNTHETIC) สำหรับการสาธิต",
        "แผนที่: Leaflet (BSD-2), Folium (MIT)",
    ],
    "en": [
        "Boundaries: OCHA COD-AB Thailand (CC BY-IGO 3.0)",
        "Survey: SYNTHETIC, for demonstration",
        "Maps: Leaflet (BSD-2), Folium (MIT)",
    ],
}
LABELS = {
    "th": {
        "problems_per_1000": "ปัญหาต่อ 1,000 ครัวเรือน",
        "affected_per_1000": "ครัวเรือนที่มีปัญหาต่อ 1,000 ครัวเรือน",
        "solved_pct": "แก้ไขแล้ว (%)",
        "problems": "จำนวนปัญหา",
        "households": "จำนวนครัวเรือน",
        "score": "คะแนนความสำคัญ",
        "round": "รอบสำรวจ",
        "water": "แหล่งน้ำ พื้นที่น้ำท่วมและภัยแล้ง",
        "water_households": "ครัวเรือนที่ไม่มีน้ำสะอาด",
        "flood_zones": "พื้นที่น้ำท่วม",
        "drought_zones": "พื้นที่ภัยแล้ง",
        "waterways": "ทางน้ำ",
        "water_sources": "แหล่งน้ำ",
        "households_map": "ครัวเรือน",
        "cases_map": "การส่งต่อเรื่องให้หน่วยงาน",
        "escalated": "เรื่องนอกอำนาจหน้าที่หรือที่ยกระดับ",
        "state": "สถานะเรื่อง",
        "unsolved_pct": "ยังไม่ได้แก้ไข (%)",
        "dimension": "มิติ",
        "category": "ปัญหา",
        "status": "สถานะ",
        "raster": "แรสเตอร์",
        "by_level": "ราย{level}",
        "hotspot_run": "การคำนวณครั้งที่ {run} · สุ่มสลับ {permutations} ครั้ง · α {alpha} · FDR",
    },
    "en": {
        "problems_per_1000": "Problems per 1,000 households",
        "affected_per_1000": "Households with problems per 1,000",
        "solved_pct": "Solved (%)",
        "problems": "Problems",
        "households": "Households",
        "score": "Priority score",
        "round": "Survey round",
        "water": "Water sources, flood and drought zones",
        "water_households": "Households without clean water",
        "flood_zones": "Flood zones",
        "drought_zones": "Drought zones",
        "waterways": "Waterways",
        "water_sources": "Water sources",
        "households_map": "Households",
        "cases_map": "Cases handed to offices",
        "escalated": "escalated",
        "state": "case state",
        "unsolved_pct": "Unsolved (%)",
        "dimension": "dimension",
        "category": "problem",
        "status": "status",
        "raster": "raster",
        "by_level": "by {level}",
        "hotspot_run": "run {run} · {permutations} permutations · α {alpha} · FDR",
    },
}
#: The TPMAP dimensions (``geo.vocab.DIMENSIONS``) in each map language.
DIMENSION_NAMES = {
    "th": {
        "health": "ด้านสุขภาพ",
        "living_conditions": "ด้านความเป็นอยู่",
        "education": "ด้านการศึกษา",
        "income": "ด้านรายได้",
        "public_services": "ด้านการเข้าถึงบริการรัฐ",
    },
    "en": {
        "health": "Health",
        "living_conditions": "Living conditions",
        "education": "Education",
        "income": "Income",
        "public_services": "Access to public services",
    },
}
#: The statuses of a problem (``geo.vocab.STATUSES``) in each map language.
STATUS_NAMES = {
    "th": {
        "open": "ยังไม่ได้แก้ไข",
        "in_progress": "กำลังดำเนินการ",
        "referred": "ส่งต่อหน่วยงานแล้ว",
        "solved_by_agency": "หน่วยงานแก้ไขแล้ว",
        "solved_by_household": "ครัวเรือนแก้ไขเอง",
        "closed_unsolved": "ปิดเรื่องโดยยังไม่ได้แก้ไข",
    },
    "en": {
        "open": "Open",
        "in_progress": "In progress",
        "referred": "Referred",
        "solved_by_agency": "Solved by an agency",
        "solved_by_household": "Solved by the household",
        "closed_unsolved": "Closed unsolved",
    },
}
#: The admin levels in each map language (a tooltip's label of an area's name).
LEVEL_NAMES = {
    "th": {"country": "ประเทศ", "province": "จังหวัด", "district": "อำเภอ", "subdistrict": "ตำบล"},
    "en": {
        "country": "Country",
        "province": "Province",
        "district": "District",
        "subdistrict": "Subdistrict",
    },
}
#: A case's states (``geo.cases.workflow.STATES``) in each map language.
STATE_NAMES = {
    "th": {
        "new": "ใหม่",
        "referred": "ส่งต่อแล้ว",
        "acknowledged": "รับเรื่องแล้ว",
        "in_progress": "กำลังดำเนินการ",
        "resolved": "แก้ไขแล้ว",
        "verified": "ยืนยันผลแล้ว",
        "rejected": "ส่งคืน",
        "reopened": "เปิดเรื่องใหม่",
        "closed_unsolved": "ปิดเรื่องโดยยังไม่ได้แก้ไข",
    },
    "en": {
        "new": "New",
        "referred": "Referred",
        "acknowledged": "Acknowledged",
        "in_progress": "In progress",
        "resolved": "Resolved",
        "verified": "Verified",
        "rejected": "Rejected",
        "reopened": "Reopened",
        "closed_unsolved": "Closed unsolved",
    },
}
