#!/usr/bin/env python3
"""Build the demo 事项目录 fixture src/tongban/catalog/seed/demo_catalog.json.

Source: shared/data/service-guides/guangdong.jsonl — 2,262 real 办事指南 records scraped from
广东政务服务网 (MIT, see SOURCE.txt / LICENSE.txt next to it). This script

* picks 36 curated items (CURATED below: 11 of 广州市 departments, 25 of 广东省 departments),
  keeping only records whose TASK_CODE starts with a valid USCC, whose 法定/承诺时限 parse as
  "N(工作日)" (法定 "无" -> the 承诺 limit is used for both) and which list materials;
* cleans them: whitespace, truncated 受理条件 (cut to the last full sentence, or replaced by
  the hand-written summary in CURATED when nothing usable is left), garbage/wrong materials
  (only the materials listed in CURATED are kept; every one must exist in the source record),
  duplicate materials;
* adds what the scraped data lacks: 设定依据 (legal_basis) where the 受理条件 cites no law, fee
  (the dump has no 收费 field), 跨省通办 flag, material classification and a form schema;
* creates 8 SYNTHETIC 浙江省/杭州市 implementations of items every province implements
  (made-up department USCCs with valid check characters; "synthetic_adaptation": true);
* validates the result and writes demo_catalog.json plus ATTRIBUTION.md.

Re-run (idempotent, output is deterministic):

    /work/main/.venv/bin/python scripts/build_demo_catalog.py
    # options: --source DIR (folder with guangdong.jsonl, SOURCE.txt, LICENSE.txt)
    #          --out-dir DIR (default src/tongban/catalog/seed)

Needs python-stdnum (stdnum.cn.uscc).

Notes on the codes:
* implementation_code (实施编码) = dept USCC (18) + 行使层级 (1) + catalog_code (12) = 31 chars.
  Some source TASK_CODEs have 33 chars: the 31-char 实施编码 plus a 2-digit 办理项 suffix
  (the platform URL of such records uses the 31-char code). For those the 31-char prefix
  is the implementation_code and the 办理项 name is folded into a cleaned item name.
* catalog_code is the record's CATAID (Guangdong's 12-char local 基本编码). The Zhejiang
  adaptations reuse it, as a stand-in for a nationally shared 基本编码.
* item_type uses GB/T 39046 A.1 codes. The Guangdong dump itself uses 21 for 公共服务 and 20
  for 其他行政权力; we map by TASK_TYPE_TEXT to 20 (公共服务) and 10 (其他) instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from stdnum.cn import uscc

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "service-guides"
DEFAULT_OUT = REPO / "src" / "tongban" / "catalog" / "seed"

# ---------------------------------------------------------------------------------------------
# Form-schema helpers (JSON Schema subset understood by the project's form renderer)
# ---------------------------------------------------------------------------------------------


def _p(type_: str, title: str, description: str | None = None, **kw) -> dict:
    d = {"type": type_, "title": title}
    if description:
        d["description"] = description
    d.update(
        {
            k.replace("min_length", "minLength").replace("max_length", "maxLength"): v
            for k, v in kw.items()
        }
    )
    return d


def S(title, max_length, description=None, **kw):
    """string with maxLength"""
    return _p("string", title, description, maxLength=max_length, **kw)


def E(title, options, description=None):
    """string enum"""
    return _p("string", title, description, enum=list(options))


def DATE(title, description=None):
    return _p("string", title, description, format="date")


def PHONE(title, description=None):
    return _p("string", title, description, format="phone", maxLength=20)


def ID(title, description=None):
    return _p("string", title, description, format="id_number", maxLength=18, minLength=15)


def USCC(title, description=None):
    return _p("string", title, description, format="uscc", maxLength=18, minLength=18)


def INT(title, minimum=None, maximum=None, description=None):
    kw = {}
    if minimum is not None:
        kw["minimum"] = minimum
    if maximum is not None:
        kw["maximum"] = maximum
    return _p("integer", title, description, **kw)


def NUM(title, minimum=None, maximum=None, description=None):
    kw = {}
    if minimum is not None:
        kw["minimum"] = minimum
    if maximum is not None:
        kw["maximum"] = maximum
    return _p("number", title, description, **kw)


def BOOL(title, description=None):
    return _p("boolean", title, description)


def F(required: list[str], **properties) -> dict:
    """form spec: required keys + ordered properties (title added later from the item name)"""
    return {"required": required, "properties": properties}


DELIVERY = E("取件方式", ["窗口领取", "邮寄送达"])
MANDARIN = E(
    "普通话水平等级", ["一级甲等", "一级乙等", "二级甲等", "二级乙等"], "须达到二级乙等及以上"
)

# ---------------------------------------------------------------------------------------------
# Curated selection. materials: "源材料名" keeps a source material (mandatory),
# "?源材料名" marks it non-mandatory, "源材料名=>展示名" renames it. Source materials not listed
# are dropped (conditional notes, garbage, materials of other items).
# ---------------------------------------------------------------------------------------------

CURATED: list[dict] = [
    # ----------------------------------------------------------------- 广州市公安局 (出入境/车驾管)
    dict(
        code="11440100007483172Q3440106042001",
        cross_province=True,
        fee="普通护照120元/本（按国家规定标准收取，以窗口公示为准）",
        legal_basis="《中华人民共和国护照法》；《中华人民共和国出境入境管理法》",
        materials=[
            "居民身份证",
            "广东省出入境证件有效期一年内数码相片检测回执=>出入境证件数码相片检测回执",
            "?申请人未满16周岁未办理身份证的交验户口簿=>居民户口簿（未满16周岁未办理身份证的）",
            "?未满16周岁申请人的监护人身份证=>监护人居民身份证（未满16周岁的）",
            "?监护关系证明=>监护关系证明（未满16周岁的）",
            "?广东省居住证=>广东省居住证（非本市户籍的）",
            "?提交所持护照原件（换发、加注、境外签发）=>原护照（换发、加注的）",
            "?提交加注事项证明材料(加注需要）=>加注事项证明材料（申请加注的）",
            "?登记备案人员单位同意函=>登记备案人员单位同意函（登记备案人员）",
        ],
        form=F(
            ["apply_type", "travel_purpose", "delivery_method"],
            apply_type=E("申请类别", ["首次申领", "换发", "补发", "加注"]),
            travel_purpose=E(
                "出境事由", ["旅游", "探亲访友", "商务", "学习", "就业", "定居", "其他"]
            ),
            destination_country=S("前往国家（地区）", 50),
            planned_departure_date=DATE("拟出境日期"),
            delivery_method=DELIVERY,
            mailing_address=S("邮寄地址", 200, "选择邮寄送达时填写"),
        ),
        zhejiang="hz_police",
    ),
    dict(
        code="11440100007483172Q3440106043001",
        cross_province=True,
        fee="往来港澳通行证60元/证（按国家规定标准收取，以窗口公示为准）",
        legal_basis="《中国公民因私事往来香港地区或者澳门地区的暂行管理办法》",
        conditions=(
            "内地居民因私前往香港、澳门特别行政区旅游、探亲、商务、学习等，可向公安机关出入境"
            "管理部门申请办理往来港澳通行证；符合“全国通办”条件的内地居民可在广州市出入境"
            "接待大厅申请，申办手续与户籍地一致。"
        ),
        materials=[
            "居民身份证",
            "广东省出入境证件数字相片采集回执=>出入境证件数字相片采集回执",
            "?申请人未满16周岁未办理身份证的交验户口簿=>居民户口簿（未满16周岁未办理身份证的）",
            "?监护人身份证明=>监护人身份证明（未满16周岁的）",
            "?监护关系证明=>监护关系证明（未满16周岁的）",
            "?广东省居住证=>广东省居住证（非本市户籍的）",
            "?原往来港澳通行证（换发）=>原往来港澳通行证（换发的）",
        ],
        form=F(
            ["apply_type", "endorsement_type", "delivery_method"],
            apply_type=E("申请类别", ["首次申领", "换发", "补发"]),
            endorsement_type=E(
                "同时申请签注",
                ["不办理签注", "团队旅游", "个人旅游", "探亲", "商务", "逗留", "其他"],
            ),
            household_register_place=S("户籍所在地", 100, "非本市户籍的填写"),
            delivery_method=DELIVERY,
            mailing_address=S("邮寄地址", 200, "选择邮寄送达时填写"),
        ),
        zhejiang="hz_police",
    ),
    dict(
        code="11440100007483172Q3440106043008",
        cross_province=False,
        fee="一次有效签注15元/件（按国家规定标准收取，以窗口公示为准）",
        legal_basis="《中国公民因私事往来香港地区或者澳门地区的暂行管理办法》",
        conditions=(
            "持有效往来港澳通行证、户籍或居住证所在地属于开放赴港澳个人旅游城市的内地居民，"
            "可申请办理个人旅游签注。"
        ),
        materials=[
            "居民身份证",
            "往来港澳通行证",
            "?申请人未满16周岁未办理身份证的交验户口簿=>居民户口簿（未满16周岁未办理身份证的）",
            "?监护关系证明=>监护关系证明（未满16周岁的）",
            "?广东省居住证=>广东省居住证（非本市户籍的）",
        ],
        form=F(
            ["permit_number", "destination", "endorsement_option"],
            permit_number=S("往来港澳通行证号码", 9, pattern="^C[0-9A-Z]{8}$"),
            destination=E("前往地", ["香港", "澳门", "香港和澳门"]),
            endorsement_option=E("签注种类", ["三个月一次", "三个月二次", "一年一次", "一年二次"]),
            planned_travel_date=DATE("拟出行日期"),
        ),
    ),
    dict(
        code="11440100007483172Q3440106054000",
        cross_province=False,
        fee="按国家规定收取机动车号牌、行驶证工本费（以窗口公示为准）",
        legal_basis="《中华人民共和国道路交通安全法》第八条；《机动车登记规定》",
        materials=[
            "机动车所有人身份证明",
            "机动车来历证明",
            "机动车整车出厂合格证明或进口凭证",
            "机动车交通事故责任强制保险凭证",
        ],
        form=F(
            ["vin", "vehicle_type", "purchase_invoice_number"],
            vin=S("车辆识别代号（VIN）", 17, pattern="^[A-HJ-NPR-Z0-9]{17}$", min_length=17),
            vehicle_brand_model=S("品牌型号", 50),
            vehicle_type=E(
                "车辆类型", ["小型汽车", "新能源小型汽车", "大型汽车", "挂车", "摩托车"]
            ),
            purchase_invoice_number=S("机动车销售统一发票号码", 30),
            quota_certificate_number=S("中小客车指标确认书编号", 30, "申请中小客车注册登记的填写"),
            plate_selection=E("号牌选取方式", ["互联网选号", "现场选号"]),
        ),
    ),
    dict(
        code="11440100007483172Q344010602900502",
        name="机动车驾驶证初次申领（小型汽车）",
        cross_province=True,
        fee="按规定收取考试费、驾驶证工本费（以窗口公示为准）",
        legal_basis="《中华人民共和国道路交通安全法》第十九条；《机动车驾驶证申领和使用规定》",
        conditions=(
            "申请人应当符合《机动车驾驶证申领和使用规定》规定的年龄、身体条件：申请小型汽车准驾"
            "车型的，年满18周岁；身体条件符合规定；无法律、法规规定不得申请机动车驾驶证的情形。"
        ),
        materials=[
            "身份证明=>居民身份证",
            "机动车驾驶人身体条件证明",
            "白底正面免冠彩色本人单人半身证件照=>本人证件照",
        ],
        form=F(
            ["vehicle_class", "driving_school"],
            vehicle_class=E("准驾车型", ["C1", "C2"], "C1 手动挡小型汽车，C2 自动挡小型汽车"),
            driving_school=S("培训驾校", 100),
            preferred_exam_site=S("意向考场", 100),
            physical_exam_date=DATE("体检日期", "身体条件证明六个月内有效"),
        ),
    ),
    dict(
        code="11440100007483172Q344010600400001",
        name="保安员证核发（初次申领）",
        cross_province=False,
        fee="按规定交纳保安员资格考试费（以公示标准为准）",
        legal_basis="《保安服务管理条例》",
        materials=["体检证明", "证件照片回执", "?广东省非税收入（电子）票据=>考试费缴费票据"],
        form=F(
            ["education_level", "exam_date"],
            education_level=E("学历", ["初中", "高中/中专", "大专", "本科及以上"]),
            exam_date=DATE("保安员资格考试日期"),
            exam_ticket_number=S("准考证号", 30),
            employer_name=S("拟就职保安服务单位", 100),
        ),
    ),
    # ----------------------------------------------------------------- 广州市司法局
    dict(
        code="11440100007483180K3440109001001",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国律师法》；《律师事务所管理办法》",
        materials=[
            "《律师事务所设立申请登记表》=>律师事务所设立申请登记表",
            "所有设立人的居民身份证",
            "拟设立律师事务所的章程",
            "住所证明（可承诺）",
            "资产证明",
        ],
        form=F(
            ["firm_name", "organization_form", "office_address", "total_assets_cny"],
            firm_name=S("律师事务所名称", 60),
            organization_form=E("组织形式", ["普通合伙", "特殊的普通合伙", "个人律师事务所"]),
            office_address=S("住所", 200),
            total_assets_cny=NUM(
                "资产总额（元）", 100000, None, "普通合伙不少于30万元，个人所不少于10万元"
            ),
            founding_partner_count=INT("设立人（合伙人）人数", 1, 100),
        ),
    ),
    dict(
        code="11440100007483180K3440109013001",
        cross_province=False,
        fee="不收费",
        legal_basis="《基层法律服务工作者管理办法》（司法部令第138号）",
        conditions=(
            "申请人应当符合《基层法律服务工作者管理办法》（司法部令第138号）第六条规定的条件："
            "拥护中华人民共和国宪法，具备规定的学历和法律专业知识，品行良好、身体健康，在基层"
            "法律服务所实习考核合格或者具有二年以上法律职业经历，并经拟执业的基层法律服务所"
            "同意接收。"
        ),
        materials=[
            "基层法律服务工作者执业登记表",
            "居民身份证",
            "实习表现的鉴定意见或者具有二年以上法律职业经历的证明",
            "照片=>本人证件照",
        ],
        form=F(
            ["service_office_name", "qualification_basis"],
            service_office_name=S("拟执业的基层法律服务所", 100),
            qualification_basis=E("执业条件", ["实习考核合格", "具有二年以上法律职业经历"]),
            education_level=E("学历", ["大专", "本科", "硕士研究生及以上"]),
            law_major=BOOL("是否法律专业"),
        ),
    ),
    # ----------------------------------------------------------------- 广州市生态环境局
    dict(
        code="11440100MB2C93184J3440113106001",
        cross_province=False,
        fee="不收费",
        legal_basis=(
            "《中华人民共和国环境影响评价法》；《建设项目环境保护管理条例》；"
            "《广东省建设项目环境影响评价文件分级审批办法》（粤府〔2019〕6号）"
        ),
        materials=[
            "建设单位申请报批项目环评文件的申请书",
            "建设项目环境影响报告书",
            "建设项目环境影响评价公众参与说明",
        ],
        form=F(
            ["project_name", "project_code", "builder_uscc", "project_location"],
            project_name=S("建设项目名称", 100),
            project_code=S(
                "投资项目代码",
                24,
                "投资项目在线审批监管平台赋码",
                pattern=r"^\d{4}-\d{6}-\d{2}-\d{2}-\d{6}$",
            ),
            builder_uscc=USCC("建设单位统一社会信用代码"),
            project_location=S("建设地点", 200),
            total_investment_10k_cny=NUM("总投资（万元）", 0),
            industry_category=S("国民经济行业类别", 50),
        ),
    ),
    # ----------------------------------------------------------------- 广州市教育局
    dict(
        code="11440100007482620J344010201300202",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国教师法》；《教师资格条例》；《〈教师资格条例〉实施办法》",
        conditions=(
            "申请人应遵守宪法和法律，热爱教育事业，无犯罪记录；具备大学本科及以上学历（中等职业"
            "学校实习指导教师按规定执行）；普通话水平达到二级乙等及以上；体检合格；通过中小学"
            "和幼儿园教师资格考试。"
        ),
        materials=[
            "中小学和幼儿园教师资格考试合格证明",
            "毕业证书",
            "二级乙等及以上普通话水平测试等级证书=>普通话水平测试等级证书",
            "体检合格证明",
            "?相应层次学业成绩单=>学业成绩单（按要求提供）",
            "?专业技术职务证书或工人技术等级证书=>专业技术职务证书或工人技术等级证书（申请实习指导教师资格的）",
        ],
        form=F(
            ["qualification_type", "teaching_subject", "exam_certificate_number"],
            qualification_type=E(
                "资格种类",
                ["高级中学教师资格", "中等职业学校教师资格", "中等职业学校实习指导教师资格"],
            ),
            teaching_subject=S("任教学科", 30),
            exam_certificate_number=S("考试合格证明编号", 30),
            mandarin_level=MANDARIN,
            highest_education=E("最高学历", ["大学本科", "硕士研究生", "博士研究生"]),
        ),
    ),
    # ----------------------------------------------------------------- 广州市规划和自然资源局
    dict(
        code="11440100MB2C91103Q344011202800002",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国城乡规划法》第四十一条；《中华人民共和国土地管理法》第六十二条",
        materials=[
            "立案申请表",
            "申请人身份证明文件",
            "村委（或村集体经济组织）出具的村民会议意见",
            "镇人民政府（街道办）、村委会同意建设的批复文件",
            "农民建房“一户一宅”承诺书",
            "XX区行政村村民建房申请审批表=>行政村村民建房申请审批表",
            "建筑设计方案图",
            "绘制在1/500现状地形图上的村民住宅建设用地四至图",
            "?有资质的房屋安全鉴定机构出具的房屋安全鉴定报告=>房屋安全鉴定报告（原址翻建的）",
        ],
        form=F(
            ["village_name", "site_address", "construction_type", "land_area_sqm"],
            village_name=S("所在行政村", 100),
            site_address=S("建设地点", 200),
            construction_type=E("建设类型", ["新建", "原址翻建", "改建", "扩建"]),
            land_area_sqm=NUM("宅基地面积（平方米）", 1),
            building_area_sqm=NUM("建筑面积（平方米）", 1),
            floors=INT("层数", 1, 4),
        ),
    ),
    # ----------------------------------------------------------------- 广东省人力资源和社会保障厅
    dict(
        code="11440000553612461J2442111681000",
        cross_province=True,
        fee="不收费",
        legal_basis=(
            "《中华人民共和国社会保险法》；《城镇企业职工基本养老保险关系转移接续暂行办法》"
            "（国办发〔2009〕66号）"
        ),
        conditions=(
            "参保人跨省（跨统筹地区）流动就业，在新就业地按规定参保缴费后，可申请将原参保地的"
            "城镇企业职工基本养老保险关系转入接续。"
        ),
        # the source lists 企业职工基本养老保险重复缴费退款申请表 (a material of another item) and
        # a note about 共享公安数据: dropped
        materials=[
            "有效身份证件原件=>居民身份证",
            "调动材料",
            "?个人委托书=>个人委托书（委托他人办理的）",
        ],
        form=F(
            ["transfer_out_region", "transfer_reason"],
            transfer_out_region=S("原参保地（转出地）", 100),
            transfer_reason=E("转移原因", ["跨省流动就业", "省内跨市流动就业", "其他"]),
            new_employer_name=S("现工作单位", 100),
            contribution_start_date=DATE("在现参保地开始缴费日期"),
        ),
        zhejiang="hz_hrss",
    ),
    dict(
        code="11440000553612461J2442111665002",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国社会保险法》第十六条",
        conditions="参保人达到法定退休年龄，且累计缴费（含视同缴费）满15年的，可申领按月领取的基本养老金。",
        materials=[
            "企业职工基本养老保险待遇申报表",
            "企业职工基本养老保险参保人历史信息审核申报表",
            "以申领人名义开立的有金融功能的社会保障卡=>社会保障卡（具有金融功能）",
            "?企业职工基本养老保险特殊工种工作经历审核申报表=>特殊工种工作经历审核申报表（特殊工种提前退休的）",
            "?如涉刑律者，须附法院判决书、刑满释放等材料原件=>法院判决书、刑满释放证明（涉刑律者）",
            "?个人委托书=>个人委托书（委托他人办理的）",
        ],
        form=F(
            ["retirement_type", "retirement_date"],
            retirement_type=E(
                "退休类别", ["正常退休", "特殊工种提前退休", "因病或非因工致残提前退休"]
            ),
            retirement_date=DATE("退休日期"),
            contribution_years=INT("累计缴费年限（年）", 0, 60),
            contact_address=S("联系地址", 200),
        ),
        zhejiang="hz_hrss",
    ),
    dict(
        code="11440000553612461J2442111660000",
        cross_province=True,
        fee="不收费",
        legal_basis="《中华人民共和国社会保险法》；《城镇企业职工基本养老保险关系转移接续暂行办法》",
        materials=[
            "有效身份证件原件=>居民身份证",
            "?委托他人办理：个人委托书=>个人委托书（委托他人办理的）",
        ],
        form=F(
            ["insurance_type", "period_start", "period_end"],
            insurance_type=E("险种", ["企业职工基本养老保险", "机关事业单位养老保险"]),
            period_start=DATE("缴费起始年月"),
            period_end=DATE("缴费截止年月"),
            purpose=S("用途", 100),
            delivery_method=DELIVERY,
        ),
    ),
    dict(
        code="11440000553612461J2442111669001",
        cross_province=True,
        fee="不收费",
        legal_basis="《工伤保险条例》；《广东省工伤保险条例》",
        materials=[
            "广东省工伤职工异地居住（就医）备案表",
            "工伤职工身份证=>工伤职工居民身份证",
            "异地居住（就医）证明材料",
            "?代办人身份证=>代办人居民身份证（代办的）",
            "?代办委托书=>代办委托书（代办的）",
        ],
        form=F(
            ["injury_decision_number", "residence_city", "designated_hospital"],
            injury_decision_number=S("工伤认定决定书编号", 50),
            residence_city=S("异地居住（就医）城市", 50),
            residence_address=S("异地居住地址", 200),
            designated_hospital=S("选定就医的协议医疗机构", 100),
            residence_start_date=DATE("开始异地居住日期"),
        ),
    ),
    dict(
        code="11440000553612461J2442111596003",
        name="户口迁出（人才集体户）",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国户口登记条例》",
        materials=["居民身份证"],
        form=F(
            ["move_reason", "to_address", "moving_date"],
            move_reason=E("迁出原因", ["购房落户", "工作调动", "投靠亲属", "升学", "其他"]),
            to_address=S("迁入地址", 200),
            to_police_station=S("迁入地派出所", 100),
            moving_date=DATE("拟迁出日期"),
        ),
    ),
    dict(
        code="11440000553612461J2442111247000",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国劳动法》第六十九条",
        materials=[
            "广东省职业技能鉴定个人申报表（日常类)=>广东省职业技能鉴定个人申报表（日常类）",
            "?广东省职业技能鉴定个人申报表（统考类)=>广东省职业技能鉴定个人申报表（统考类）",
            "毕业证书",
        ],
        form=F(
            ["occupation_name", "skill_level", "declaration_type"],
            occupation_name=S("申报职业（工种）", 50),
            skill_level=E(
                "申报等级",
                ["五级/初级工", "四级/中级工", "三级/高级工", "二级/技师", "一级/高级技师"],
            ),
            declaration_type=E("鉴定类别", ["日常鉴定", "统考鉴定"]),
            years_in_occupation=INT("本职业工作年限（年）", 0, 60),
            training_institution=S("培训机构", 100),
        ),
    ),
    dict(
        code="11440000553612461J2442111751001",
        cross_province=False,
        fee="不收费",
        legal_basis="《普通高等学校毕业生就业工作暂行规定》",
        materials=["毕业生就业协议书", "居民身份证"],
        form=F(
            ["employer_name", "employer_uscc", "graduation_date", "degree"],
            employer_name=S("接收单位名称", 100),
            employer_uscc=USCC("接收单位统一社会信用代码"),
            university=S("毕业院校", 100),
            graduation_date=DATE("毕业时间"),
            degree=E("学位", ["学士", "硕士", "博士"]),
        ),
    ),
    # ----------------------------------------------------------------- 广东省卫生健康委员会
    dict(
        code="11440000006940132H2440720009000",
        cross_province=False,
        fee="不收费",
        legal_basis="《计划生育技术服务管理条例》；《广东省人口与计划生育条例》",
        materials=[
            "计划生育手术并发症鉴定申请表",
            "居民身份证",
            "中华人民共和国结婚证=>结婚证",
            "计划生育手术证明",
        ],
        form=F(
            ["surgery_type", "surgery_date", "surgery_institution"],
            surgery_type=E(
                "手术类型",
                [
                    "放置宫内节育器",
                    "取出宫内节育器",
                    "输卵管绝育术",
                    "输精管绝育术",
                    "人工流产",
                    "其他",
                ],
            ),
            surgery_date=DATE("手术日期"),
            surgery_institution=S("施术机构", 100),
            symptoms=S("不良后果及诊治经过", 500),
            spouse_id_number=ID("配偶公民身份号码"),
        ),
    ),
    dict(
        code="11440000006940132H244072000800003",
        name="病残儿医学鉴定",
        cross_province=False,
        fee="不收费",
        legal_basis="《广东省人口与计划生育条例》；《病残儿医学鉴定管理办法》",
        conditions=(
            "居住在广东省内的中华人民共和国公民，其生育的子女因各种原因致病、致残，要求再生育"
            "的，可以申请病残儿医学鉴定。"
        ),
        materials=[
            "广东省病残儿医学鉴定申请表",
            "居民身份证",
            "广东省居民户口簿=>居民户口簿",
            "中华人民共和国结婚证=>结婚证",
            "疾病诊断资料",
            "?中华人民共和国离婚证=>离婚证（再婚的）",
            "?法院离婚判决书=>法院离婚判决书（经诉讼离婚的）",
            "?离婚协议书=>离婚协议书（协议离婚的）",
        ],
        form=F(
            ["child_name", "child_id_number", "diagnosis_summary"],
            child_name=S("病残儿姓名", 30),
            child_id_number=ID("病残儿公民身份号码"),
            child_birth_date=DATE("病残儿出生日期"),
            diagnosis_summary=S("病情及诊断摘要", 500),
            diagnosis_hospital=S("诊断医疗机构", 100),
            spouse_id_number=ID("配偶公民身份号码"),
        ),
    ),
    # ----------------------------------------------------------------- 广东省教育厅
    dict(
        code="11440000006940116U2440102013001",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国教师法》；《教师资格条例》；《〈教师资格条例〉实施办法》",
        conditions=(
            "在广东省高等学校任教或拟任教的人员，具备研究生或者大学本科学历，普通话水平达到二级"
            "乙等及以上，体检合格，遵守宪法和法律、热爱教育事业，可申请认定高等学校教师资格。"
        ),
        materials=[
            "居民身份证",
            "学历证书",
            "普通话等级证书=>普通话水平测试等级证书",
            "体检表",
            "本人正面免冠照片=>本人证件照",
        ],
        form=F(
            ["employer_university", "teaching_subject", "highest_education"],
            employer_university=S("任教（拟任教）高校", 100),
            teaching_subject=S("任教学科", 30),
            highest_education=E("最高学历", ["大学本科", "硕士研究生", "博士研究生"]),
            professional_title=E("专业技术职务", ["无", "助教", "讲师", "副教授", "教授"]),
            mandarin_level=MANDARIN,
        ),
        zhejiang="zj_edu",
    ),
    dict(
        code="11440000006940116U2440702100000",
        cross_province=True,
        fee="不收费",
        legal_basis="《高等教育自学考试暂行条例》",
        materials=[
            "居民身份证",
            "外省的准考证=>原考籍所在省准考证",
            "考生转考（转出）登记表",
            "?考生转考（转入）登记表",
        ],
        form=F(
            ["transfer_direction", "original_province", "original_admission_number"],
            transfer_direction=E("转考方向", ["外省转入广东", "广东转出外省"]),
            original_province=S("原考籍所在省份", 20),
            original_admission_number=S("原准考证号", 20),
            major_code=S("报考专业代码", 10),
            transfer_reason=E("转考原因", ["户口迁移", "工作变动", "其他"]),
        ),
    ),
    dict(
        code="11440000006940116U2442102111000",
        cross_province=False,
        fee="不收费",
        legal_basis="《高等教育自学考试暂行条例》",
        materials=["学历证明申请表", "居民身份证"],
        form=F(
            ["graduation_certificate_number", "graduation_year", "copies"],
            graduation_certificate_number=S("自学考试毕业证书编号", 30),
            graduation_year=INT("毕业年份", 1981, 2100),
            major_name=S("专业名称", 50),
            copies=INT("份数", 1, 10),
            delivery_method=DELIVERY,
        ),
    ),
    # ----------------------------------------------------------------- 广东省市场监督管理局
    dict(
        code="11440000MB2D0234372440125017008",
        cross_province=True,
        fee="不收费",
        legal_basis="《中华人民共和国公司法》；《中华人民共和国市场主体登记管理条例》",
        conditions=(
            "符合以下全部条件：1．股东符合法定人数：有限责任公司由五十个以下股东出资设立；"
            "2．有符合公司章程规定的全体股东认缴的出资额；3．股东共同制定公司章程；4．有公司"
            "名称，建立符合有限责任公司要求的组织机构；5．有公司住所。"
        ),
        materials=[
            "《公司登记（备案）申请书》=>公司登记（备案）申请书",
            "公司章程",
            "全体投资者的主体资格证明或自然人身份证明",
            "法定代表人的任职文件及身份证明复印件=>法定代表人任职文件及身份证明",
            "董事、监事和经理的任职文件及身份证明复印件=>董事、监事和经理的任职文件及身份证明",
            "住所（经营场所）场地使用证明",
            "《企业名称自主申报告知书》=>企业名称自主申报告知书",
            "?《企业名称自主申报使用信用承诺书》=>企业名称自主申报使用信用承诺书",
            "?前置审批文件或者许可证件=>前置审批文件或者许可证件（涉及前置许可的）",
        ],
        form=F(
            [
                "company_name",
                "registered_capital_10k_cny",
                "shareholder_count",
                "business_scope",
                "residence_address",
            ],
            company_name=S("企业名称", 50),
            registered_capital_10k_cny=NUM("注册资本（万元）", 0),
            shareholder_count=INT("股东人数", 1, 50),
            business_scope=S("经营范围", 500),
            residence_address=S("住所", 200),
            legal_rep_id_number=ID("法定代表人公民身份号码"),
        ),
        zhejiang="hz_amr",
    ),
    dict(
        code="11440000MB2D0234372442025027004",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国民法典》第四百四十三条；《股权出质登记办法》",
        materials=[
            "《股权出质登记申请书》=>股权出质登记申请书",
            "出质人、质权人的主体资格证明或者自然人身份证明复印件=>出质人、质权人的主体资格证明或者自然人身份证明",
            "质权合同",
        ],
        form=F(
            ["target_company_uscc", "pledged_amount_10k_cny", "pledgee_name"],
            target_company_name=S("出质股权所在公司名称", 100),
            target_company_uscc=USCC("出质股权所在公司统一社会信用代码"),
            pledged_amount_10k_cny=NUM("出质股权数额（万元）", 0),
            pledgee_name=S("质权人名称或姓名", 100),
            pledgee_identifier=S("质权人证照号码", 18, "统一社会信用代码或公民身份号码"),
            contract_date=DATE("质权合同签订日期"),
        ),
    ),
    # ----------------------------------------------------------------- 国家税务总局广东省税务局
    dict(
        code="11440000006941354C244212412700001",
        cross_province=True,
        fee="不收费",
        legal_basis=(
            "《中华人民共和国税收征收管理法》；《国家税务总局关于将个人所得税〈税收完税证明〉"
            "（文书式）调整为〈纳税记录〉有关事项的公告》（国家税务总局公告2018年第55号）"
        ),
        materials=[
            "本人身份证件=>居民身份证",
            "?委托人他人代开的需报送受托人有效身份证件=>受托人有效身份证件（委托他人办理的）",
            "?委托人他人代开的需报送委托人书面授权资料=>委托人书面授权资料（委托他人办理的）",
        ],
        form=F(
            ["period_start", "period_end"],
            period_start=DATE("税款所属期起"),
            period_end=DATE("税款所属期止"),
            income_type=E("所得项目", ["全部", "工资薪金所得", "劳务报酬所得", "经营所得", "其他"]),
            purpose=S("用途", 100),
        ),
        zhejiang="zj_tax",
    ),
    dict(
        code="11440000006941354C244202403400001",
        cross_province=False,
        fee="不收费（代开发票不收取费用，应纳税款另行缴纳）",
        legal_basis="《中华人民共和国发票管理办法》",
        materials=[
            "A02095《代开增值税发票缴纳款申报单》=>代开增值税发票缴纳款申报单",
            "经办人身份证件",
            "?加载统一社会信用代码的营业执照（或税务登记证）=>营业执照（单位申请的）",
        ],
        form=F(
            ["buyer_name", "goods_or_service", "amount_cny"],
            buyer_name=S("购买方名称", 100),
            buyer_tax_id=S("购买方纳税人识别号", 20),
            goods_or_service=S("货物或应税劳务、服务名称", 100),
            amount_cny=NUM("金额（元，不含税）", 0.01),
            levy_rate=NUM("征收率", 0, 0.13, "如 0.01、0.03"),
        ),
    ),
    # ----------------------------------------------------------------- 广东省残疾人联合会
    dict(
        code="13440000455857174Y2442169016000",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国残疾人保障法》；《中华人民共和国残疾人证管理办法》",
        conditions=(
            "具有广东省户籍，经残疾评定符合《残疾人残疾分类和分级》（GB/T 26341）标准的视力、"
            "听力、言语、肢体、智力、精神及多重残疾人，可申请办理《中华人民共和国残疾人证》。"
        ),
        materials=[
            "中华人民共和国残疾人证申请表=>残疾人证申请表",
            "居民身份证",
            "广东省居民户口簿=>居民户口簿",
            "中华人民共和国残疾评定表=>残疾评定表",
            "照片=>本人近期证件照",
        ],
        form=F(
            ["disability_category", "assessment_hospital"],
            disability_category=E(
                "残疾类别",
                [
                    "视力残疾",
                    "听力残疾",
                    "言语残疾",
                    "肢体残疾",
                    "智力残疾",
                    "精神残疾",
                    "多重残疾",
                ],
            ),
            assessment_hospital=S("残疾评定机构", 100),
            guardian_id_number=ID(
                "监护人公民身份号码", "未成年人、智力或精神残疾人由监护人代为申请时填写"
            ),
            residence_address=S("现居住地址", 200),
            receive_method=E("领证方式", ["窗口领取", "邮寄送达", "社区代领"]),
        ),
        zhejiang="zj_dpf",
    ),
    dict(
        code="13440000455857174Y2442169061000",
        cross_province=True,
        fee="不收费",
        legal_basis="《中华人民共和国残疾人证管理办法》",
        materials=[
            "广东省残疾人证_____迁移____申请表=>广东省残疾人证迁移申请表",
            "户口迁移证",
            "中华人民共和国残疾人证=>残疾人证",
        ],
        form=F(
            ["disability_certificate_number", "to_region", "moving_date"],
            disability_certificate_number=S(
                "残疾人证号",
                20,
                "公民身份号码+残疾类别+残疾等级，共20位",
                pattern=r"^\d{17}[\dX]\d{2}$",
                min_length=20,
            ),
            to_region=S("迁入地（省市县）", 100),
            migration_certificate_number=S("户口迁移证编号", 30),
            moving_date=DATE("户口迁移日期"),
        ),
    ),
    # ----------------------------------------------------------------- 广东省司法厅
    dict(
        code="114400000069401674244050900100901",
        cross_province=False,
        service_objects=[
            "citizen"
        ],  # the source also lists 事业法人/其他组织; 法律援助 is for citizens
        fee="不收费",
        legal_basis="《中华人民共和国法律援助法》；《广东省法律援助条例》",
        materials=[
            "法律援助申请表",
            "居民身份证或有效身份证明=>居民身份证",
            "法律援助申请人家庭困难和经济困难申报表",
            "申请法律援助事项的材料",
            "?告知承诺制格式文本=>经济困难状况告知承诺书（选择告知承诺的）",
        ],
        form=F(
            ["case_type", "case_description", "hardship_type"],
            case_type=E(
                "案件类型",
                ["劳动争议", "婚姻家庭", "人身损害赔偿", "追索赡养费抚养费", "刑事辩护", "其他"],
            ),
            opposing_party=S("对方当事人", 100),
            case_description=S("案情及申请事项", 1000),
            hardship_type=E(
                "申请依据",
                [
                    "城乡最低生活保障对象",
                    "特困供养人员",
                    "家庭经济困难",
                    "无需审查经济状况的特殊案件",
                ],
            ),
            urgent=BOOL("是否临近时效或开庭期限"),
        ),
    ),
    # ----------------------------------------------------------------- 广东省社会组织管理局 (民政)
    dict(
        code="1144000067157148822440192002002",
        cross_province=False,
        fee="不收费",
        legal_basis="《社会团体登记管理条例》",
        conditions=(
            "成立省一级社会团体，应当具备下列条件：有明确的业务主管单位（依法直接登记的除外）；"
            "有50个以上的个人会员或者30个以上的单位会员（混合组成的，会员总数不少于50个）；"
            "有规范的名称和相应的组织机构；有固定的住所；有与其业务活动相适应的专职工作人员；"
            "有合法的资产和经费来源，地方性社会团体有3万元以上活动资金；有独立承担民事责任的能力。"
        ),
        materials=[
            "社会团体法人登记表",
            "社会团体名称预先核准通知书",
            "社会团体章程核准表",
            "社会团体会员大会会议纪要",
            "社会团体法定代表人登记表",
            "社会团体负责人备案表",
            "社会团体监事备案表",
            "所有负责人身份证明",
            "社会团体住所使用权证明",
            "银行存款证明",
            "法定代表人未担任其他社会团体法定代表人声明",
            "承诺书",
            "?社会团体业务主管单位同意成立的文件=>业务主管单位同意成立的文件（需业务主管单位的）",
            "?成立原籍地人民政府支持在粤成立商会的函=>原籍地人民政府支持在粤成立商会的函（异地商会）",
            "?母校确认校友会发起人资质并同意其发起成立的函=>母校同意成立校友会的函（校友会）",
        ],
        form=F(
            ["org_name", "activity_funds_10k_cny", "member_count", "registered_address"],
            org_name=S("社会团体名称", 50),
            supervising_unit=S("业务主管单位", 100, "依法直接登记的可不填"),
            activity_funds_10k_cny=NUM("活动资金（万元）", 3),
            member_count=INT("会员数量", 30, None, "个人会员不少于50个或单位会员不少于30个"),
            registered_address=S("住所", 200),
            legal_rep_id_number=ID("拟任法定代表人公民身份号码"),
        ),
    ),
    dict(
        code="1144000067157148822442192006000",
        cross_province=False,
        fee="不收费",
        legal_basis="《民办非企业单位登记管理暂行条例》",
        materials=[
            "民办非企业单位名称预先核准申请表",
            "举办者身份证明材料",
            "?预先核名申请书",
            "?业务主管单位审查意见=>业务主管单位审查意见（需业务主管单位的）",
        ],
        form=F(
            ["proposed_name", "business_field", "registered_address"],
            proposed_name=S("拟用名称", 50),
            alternative_name=S("备选名称", 50),
            business_field=E(
                "业务领域", ["教育", "卫生", "文化", "科技", "体育", "社会服务", "其他"]
            ),
            supervising_unit=S("业务主管单位", 100),
            registered_address=S("拟设住所", 200),
        ),
    ),
    # ----------------------------------------------------------------- 广东省交通运输厅
    dict(
        code="11440000006939844R244011501000104",
        name="超限运输车辆跨省行驶公路审批（一类）",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国公路法》；《公路安全保护条例》；《超限运输车辆行驶公路管理规定》",
        materials=[
            "车辆行驶证或临时行驶车号牌",
            "承运人经营许可证=>道路运输经营许可证",
            "居民身份证=>经办人居民身份证",
            "?授权委托书=>授权委托书（委托办理的）",
            "?运输计划（多次运输的）",
        ],
        form=F(
            [
                "plate_number",
                "cargo_description",
                "gross_weight_tonnes",
                "route_description",
                "transport_start_date",
            ],
            plate_number=S("车辆号牌", 8, pattern="^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$"),
            cargo_description=S("货物名称及规格（不可解体）", 100),
            gross_weight_tonnes=NUM("车货总质量（吨）", 0),
            route_description=S("通行路线", 500),
            transport_start_date=DATE("通行起始日期"),
            transport_end_date=DATE("通行截止日期"),
        ),
    ),
    # ----------------------------------------------------------------- 广东省药品监督管理局
    dict(
        code="11440000MB2D0344212440172027001",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国药品管理法》；《执业药师注册管理办法》",
        conditions=(
            "取得《执业药师职业资格证书》；遵纪守法，遵守执业药师职业道德，无不良信息记录；身体"
            "健康，能坚持在执业药师岗位工作；经执业单位同意；按规定参加继续教育学习。"
        ),
        materials=[
            "《执业药师首次注册申请表》=>执业药师首次注册申请表",
            "《执业药师资格证》=>执业药师职业资格证书",
            "身份证明（正反面）=>居民身份证",
            "执业单位合法开业证明",
            "体检表或健康证明",
            "近期标准2寸免冠正面彩照（蓝色底或红色底）电子版=>本人2寸证件照（电子版）",
            "?继续教育学分证明=>继续教育学分证明（取得资格证书超过三年的）",
        ],
        form=F(
            ["certificate_number", "employer_name", "practice_category", "practice_scope"],
            certificate_number=S("执业药师职业资格证书管理号", 30),
            employer_name=S("执业单位名称", 100),
            employer_license_number=S("执业单位许可证编号", 30),
            practice_category=E("执业类别", ["药学", "中药学", "药学与中药学"]),
            practice_scope=E("执业范围", ["药品生产", "药品经营", "药品使用"]),
        ),
    ),
    # ----------------------------------------------------------------- 广东省民族宗教事务委员会
    dict(
        code="1144000072510722722440705001000",
        cross_province=False,
        fee="不收费",
        legal_basis="《中华人民共和国民族区域自治法》；教育部当年《普通高等学校招生工作规定》",
        conditions=(
            "在广东省报名参加普通高校招生考试的少数民族考生，属于以下情形之一的，可申请资格"
            "确认：（1）户籍在我省少数民族聚居区（连南瑶族自治县、连山壮族瑶族自治县、乳源瑶族"
            "自治县、省内民族乡及少数民族聚居的村）；（2）从外省少数民族聚居区迁入广东省；"
            "（3）随父母来粤务工的外省少数民族聚居区考生。具体年限及学籍要求以当年招生政策为准。"
        ),
        materials=[
            "居民身份证",
            "居民户口簿",
            "考生照片",
            "考生学籍证明资料复印件=>考生学籍证明资料",
            "?广东省少数民族聚居区少数民族考生审核表=>广东省少数民族聚居区少数民族考生审核表（省内聚居区考生）",
            "?外省少数民族聚居区迁入广东省的少数民族考生审核表=>外省聚居区迁入广东省的少数民族考生审核表（迁入考生）",
            "?外省少数民族聚居区随父母来粤务工的少数民族考生审核表=>随父母来粤务工的少数民族考生审核表（随迁考生）",
        ],
        form=F(
            ["ethnicity", "exam_registration_number", "candidate_category"],
            ethnicity=S("民族", 10),
            exam_registration_number=S("高考报名号", 20),
            candidate_category=E(
                "考生类别", ["省内少数民族聚居区考生", "外省聚居区迁入考生", "随父母来粤务工考生"]
            ),
            high_school_name=S("就读高中", 100),
            residence_years=INT("在聚居区连续居住年限（年）", 0, 30),
        ),
    ),
    # ----------------------------------------------------------------- 广东省科学技术厅
    dict(
        code="11440000006939801C2442003005000",
        cross_province=False,
        service_objects=["enterprise"],  # the source also lists 自然人
        fee="不收费",
        legal_basis="《高新技术企业认定管理办法》（国科发火〔2016〕32号）",
        conditions=(
            "企业申请认定时须注册成立一年以上；拥有对其主要产品（服务）在技术上发挥核心支持作用"
            "的知识产权；主要产品（服务）的核心技术属于《国家重点支持的高新技术领域》规定的范围；"
            "科技人员占企业当年职工总数的比例不低于10%；近三个会计年度研究开发费用总额占销售收入"
            "总额的比例符合规定；近一年高新技术产品（服务）收入占同期总收入的比例不低于60%；"
            "创新能力评价达到相应要求；申请认定前一年内未发生重大安全、重大质量事故或严重环境"
            "违法行为。"
        ),
        materials=[
            "高新技术企业认定申请材料=>高新技术企业认定申请书",
            "营业执照（A类有限责任公司）=>营业执照",
            "企业创新能力评估材料",
            "近3个会计年度企业所得税年度纳税申报表",
            "企业人员情况材料=>企业职工和科技人员情况说明",
        ],
        form=F(
            ["enterprise_uscc", "technical_field", "rd_staff_ratio"],
            enterprise_uscc=USCC("企业统一社会信用代码"),
            technical_field=E(
                "技术领域",
                [
                    "电子信息",
                    "生物与新医药",
                    "航空航天",
                    "新材料",
                    "高技术服务",
                    "新能源与节能",
                    "资源与环境",
                    "先进制造与自动化",
                ],
            ),
            rd_staff_ratio=NUM("科技人员占职工总数比例", 0, 1, "填小数，如 0.15"),
            rd_expense_10k_cny=NUM("近三年研发费用总额（万元）", 0),
            high_tech_revenue_ratio=NUM("近一年高新技术产品（服务）收入占比", 0, 1),
            contact_email=_p("string", "联系邮箱", None, format="email", maxLength=100),
        ),
    ),
]

# Synthetic Zhejiang departments: (name, division, USCC prefix 登记管理部门+机构类别)
ZJ_DEPTS = {
    "hz_police": ("杭州市公安局", "330100", "11"),
    "hz_hrss": ("杭州市人力资源和社会保障局", "330100", "11"),
    "hz_amr": ("杭州市市场监督管理局", "330100", "11"),
    "zj_edu": ("浙江省教育厅", "330000", "11"),
    "zj_dpf": ("浙江省残疾人联合会", "330000", "13"),
    "zj_tax": ("国家税务总局浙江省税务局", "330000", "11"),
}
ZJ_CONTACT = {  # generic public hotlines (12345 政务服务便民热线, 12366 纳税服务, 12385 残疾人服务)
    "hz_police": "12345",
    "hz_hrss": "12345",
    "hz_amr": "12345",
    "zj_edu": "12345",
    "zj_dpf": "12385",
    "zj_tax": "12366",
}
ZJ_TEXT = [("广东省", "浙江省"), ("广州市", "杭州市"), ("在粤", "在浙"), ("来粤", "来浙")]

ITEM_TYPES = {
    "行政许可": "01",
    "行政给付": "05",
    "行政确认": "07",
    "行政奖励": "08",
    "行政裁决": "09",
    "其他行政权力": "10",
    "公共服务": "20",
}
LIMIT_RE = re.compile(r"^(\d+)\(工作日\)$")
FORMATS = {"date", "phone", "id_number", "uscc", "email"}

# ---------------------------------------------------------------------------------------------
# Cleaning helpers
# ---------------------------------------------------------------------------------------------
CJK = r"\u3000-\u303f\uff00-\uffef\u4e00-\u9fff"


def clean_text(text: str | None) -> str:
    t = (text or "").replace("\u3000", " ").replace("\xa0", " ")
    t = re.sub(r"\s+", " ", t).strip()
    # drop spaces next to CJK characters / full-width punctuation
    t = re.sub(rf"(?<=[{CJK}])\s+|\s+(?=[{CJK}])", "", t)
    return t


def clean_conditions(text: str, code: str) -> str:
    t = clean_text(text)
    if t.endswith(("：", ":", "；", ";", "，", ",", "、")):
        cut = t.rfind("。")
        if cut < 20:
            raise SystemExit(
                f"{code}: 受理条件 is truncated and has no usable sentence: {t!r}; "
                "add a 'conditions' summary in CURATED"
            )
        t = t[: cut + 1]
    elif not t.endswith(("。", "！", "？", "）", ")", "”")):
        t += "。"
    if len(t) > 600:
        t = t[: t.rfind("。", 0, 600) + 1]
    return t


GARBAGE_MATERIAL = re.compile(r"共享|一致|需核查|^无$")


def clean_materials(raw) -> list[str]:
    out: list[str] = []
    for m in raw if isinstance(raw, list) else []:
        name = clean_text(m).rstrip("。.；;，,")
        if len(name) < 2 or GARBAGE_MATERIAL.search(name) or name in out:
            continue
        out.append(name)
    return out


FORM_RE = re.compile(
    r"申请表|申请书|登记表|申报表|审核表|审批表|报检单|备案表|承诺书|委托书|声明|章程|"
    r"申报单|调查表|核准表|会议纪要|授权资料|告知书|申请材料"
)
SHARED_RE = re.compile(
    r"居民身份证|身份证明|身份证件|户口簿|营业执照|结婚证|离婚证|出生医学证明|"
    r"不动产权|社会保障卡|驾驶证|行驶证|护照|通行证|残疾人证|户口迁移证|居住证|"
    r"等级证书|资格证|考试合格证明|经营许可证|名称预先核准通知书|主体资格证明|纳税申报表"
)
NOT_SHARED_RE = re.compile(r"军人|任职文件|学分")
GOV_RE = re.compile(r"判决书|批复|人民政府|业务主管单位|非税收入|缴费票据|介绍信|开业证明")
THIRD_RE = re.compile(
    r"体检|身体条件|健康证明|诊断|鉴定|评定|银行|存款|回执|毕业证书|学历证书|成绩单|"
    r"学籍|合格证明|保险凭证|来历证明|村委|会议意见|手术证明|函$|协议书"
)
CERT_RE = re.compile(
    r"证$|证明|执照|证书|判决书|凭证|批复|通知书|函|意见|票据|评定表|回执|资料$|体检|成绩单|"
    r"同意成立的文件"
)

# explicit corrections where the heuristics above misfire
MAT_OVERRIDES: dict[str, dict[str, Any]] = {
    "毕业生就业协议书": {"material_type": "2", "source_type": "10"},
    "质权合同": {"material_type": "3", "source_type": "10"},
    "离婚协议书（协议离婚的）": {"material_type": "3", "source_type": "10"},
    "调动材料": {"material_type": "1", "source_type": "99"},
    "申请法律援助事项的材料": {"material_type": "3", "source_type": "10"},
    "疾病诊断资料": {"material_type": "1", "source_type": "99"},
    "企业创新能力评估材料": {"material_type": "3", "source_type": "10"},
    "住所（经营场所）场地使用证明": {
        "material_type": "1",
        "source_type": "99",
        "replaceable_by_shared_data": False,
    },
    "社会团体住所使用权证明": {"material_type": "1", "source_type": "99"},
    "住所证明（可承诺）": {"material_type": "1", "source_type": "99"},
    "资产证明": {"material_type": "1", "source_type": "99"},
    "异地居住（就医）证明材料": {"material_type": "1", "source_type": "99"},
    "计划生育手术证明": {"material_type": "1", "source_type": "99"},
    "社会团体名称预先核准通知书": {
        "material_type": "1",
        "source_type": "20",
        "replaceable_by_shared_data": True,
    },
    "近3个会计年度企业所得税年度纳税申报表": {
        "material_type": "3",
        "source_type": "10",
        "replaceable_by_shared_data": True,
    },
    "法定代表人任职文件及身份证明": {"material_type": "3", "source_type": "10"},
    "董事、监事和经理的任职文件及身份证明": {"material_type": "3", "source_type": "10"},
    "原考籍所在省准考证": {"material_type": "1", "source_type": "20"},
    "登记备案人员单位同意函（登记备案人员）": {"source_type": "99"},
    "母校同意成立校友会的函（校友会）": {"source_type": "99"},
    "执业单位合法开业证明": {"replaceable_by_shared_data": True},
    "本人证件照": {"material_type": "3", "source_type": "10"},
}


def classify(name: str) -> dict:
    shared = bool(SHARED_RE.search(name)) and not NOT_SHARED_RE.search(name)
    if FORM_RE.search(name):  # forms and documents the applicant fills in are never shared data
        shared = False
        mtype, source = "2", "10"
    else:
        mtype = "1" if (shared or CERT_RE.search(name)) else "3"
        if shared:
            source = "20"
        elif GOV_RE.search(name):
            source = "20"
        elif THIRD_RE.search(name):
            source = "99"
        else:
            source = "10"
    d: dict[str, Any] = {
        "replaceable_by_shared_data": shared,
        "material_type": mtype,
        "source_type": source,
    }
    d.update(MAT_OVERRIDES.get(name, {}))
    if d["replaceable_by_shared_data"]:
        d["source_type"] = "20"
    return d


def parse_limits(rec: dict) -> tuple[int, int] | None:
    committed = LIMIT_RE.match(rec.get("handle_time_limit") or "")
    if not committed:
        return None
    legal_raw = (rec.get("handle_time") or "").strip()
    if legal_raw in ("", "无"):
        return int(committed.group(1)), int(committed.group(1))
    legal = LIMIT_RE.match(legal_raw)
    if not legal:
        return None
    return int(legal.group(1)), int(committed.group(1))


def eligible(rec: dict) -> str | None:
    """None if the record may be used, else the reason it may not."""
    if not uscc.is_valid(rec["TASK_CODE"][:18]):
        return "TASK_CODE does not start with a valid USCC"
    if len(rec["TASK_CODE"]) not in (31, 33):
        return "TASK_CODE length"
    if rec["CATAID"] != rec["TASK_CODE"][19:31]:
        return "CATAID does not match TASK_CODE"
    if parse_limits(rec) is None:
        return "time limits not N(工作日)"
    if not clean_materials(rec.get("material_intro")):
        return "no materials"
    return None


def strip_prefix(text: str, prefix: str) -> str:
    t = clean_text(text)
    return t[len(prefix) :].strip() if t.startswith(prefix) else t


def clean_phone(text: str) -> str:
    t = strip_prefix(text, "电话：").replace("–", "-").replace("—", "-")
    return re.sub(r"\s*([、/，,])\s*", r"\1", t)


def clean_url(url: str) -> str:
    """Drop the platform's session parameter gdbsTokenId (empty or a token) from a URL."""
    u = re.sub(r"([?&])gdbsTokenId=[^&#]*&?", r"\1", clean_text(url))
    return re.sub(r"[?&]+(?=#|$)", "", u)


def themes_of(rec: dict) -> list[str]:
    out = []
    for t in rec.get("theme_category") or []:
        t = clean_text(t)
        if t and t not in out:
            out.append(t)
    if len(out) > 1 and "其他" in out:
        out.remove("其他")
    return out


def service_objects(rec: dict) -> list[str]:
    names = rec.get("service_object_name") or []
    out = []
    if "自然人" in names:
        out.append("citizen")
    if any(re.search("法人|企业|组织", n) for n in names):
        out.append("enterprise")
    return out


def online_depth(rec: dict) -> int:
    visits = rec.get("visit_number")
    if rec.get("ONLINECHECK") == "1" and visits == "0":
        return 4
    if visits in ("0", "1"):
        return 3
    return 2


# ---------------------------------------------------------------------------------------------
# Synthetic USCC for the Zhejiang departments
# ---------------------------------------------------------------------------------------------


def org_code_check(body8: str) -> str:
    """GB 11714 组织机构代码 check character for an 8-character body."""
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, weights, strict=True)
    )
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def synthetic_uscc(prefix2: str, division: str, seq: int) -> str:
    body8 = f"MB99{seq:04d}"
    s17 = prefix2 + division + body8 + org_code_check(body8)
    return s17 + uscc.calc_check_digit(s17)


# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------


def build_form(name: str, spec: dict) -> dict:
    return {
        "type": "object",
        "title": f"{name}申请表",
        "required": list(spec["required"]),
        "properties": json.loads(json.dumps(spec["properties"])),
    }


def build_item(rec: dict, spec: dict, log: list[str]) -> dict:
    code = rec["TASK_CODE"]
    reason = eligible(rec)
    if reason:
        raise SystemExit(f"{code}: not eligible: {reason}")
    dept = code[:18]
    level = code[18]
    catalog = rec["CATAID"]
    name = spec.get("name") or clean_text(rec["TASK_NAME"])
    limits = parse_limits(rec)
    assert limits is not None  # eligible() checked it
    legal, committed = limits
    # materials
    available = clean_materials(rec["material_intro"])
    materials, used = [], set()
    for entry in spec["materials"]:
        mandatory = not entry.startswith("?")
        entry = entry.lstrip("?")
        src, _, shown = entry.partition("=>")
        if src not in available:
            raise SystemExit(f"{code}: material {src!r} not in source {available}")
        used.add(src)
        mname = shown or src
        materials.append({"name": mname, "mandatory": mandatory, **classify(mname)})
    dropped = [m for m in available if m not in used]
    if dropped:
        log.append(f"{code} {name}: dropped materials {dropped}")
    if spec.get("conditions"):
        conditions = spec["conditions"]
        log.append(
            f"{code} {name}: 受理条件 replaced by summary (source: "
            f"{clean_text(rec['accept_standard'])[:60]!r}…)"
        )
    else:
        conditions = clean_conditions(rec["accept_standard"], code)
    objects = service_objects(rec)
    if spec.get("service_objects") and spec["service_objects"] != objects:
        log.append(
            f"{code} {name}: service_objects {objects} -> {spec['service_objects']} "
            f"(source: {rec.get('service_object_name')})"
        )
        objects = spec["service_objects"]
    legal_basis = spec.get("legal_basis") or extract_legal_basis(rec["accept_standard"])
    if not legal_basis:
        raise SystemExit(f"{code}: no legal basis found; add one in CURATED")
    return {
        "catalog_code": catalog,
        "implementation_code": dept + level + catalog,
        "name": name,
        "item_type": ITEM_TYPES[rec["TASK_TYPE_TEXT"]],
        "department": dept,
        "division": rec["AREACODE"],
        "use_level": level,
        "legal_basis": legal_basis,
        "conditions": conditions,
        "legal_limit_days": legal,
        "committed_limit_days": committed,
        "fee": spec["fee"],
        "online_depth": online_depth(rec),
        "visits_required": int(rec["visit_number"]),
        "cross_province": spec["cross_province"],
        "service_objects": objects,
        "themes": themes_of(rec),
        "consult_phone": clean_phone(rec["consult_phone"]),
        "handle_location": strip_prefix(rec["handle_location"], "办理地点："),
        "source_url": clean_url(rec["URL"]),
        "synthetic_adaptation": False,
        "materials": materials,
        "form_schema": build_form(name, spec["form"]),
    }


LAW_TITLE = re.compile(r"《([^《》]{2,60})》")
LAW_END = re.compile(r"(法|条例|办法|规定|决定|规则|细则|通知|意见)$")


def extract_legal_basis(text: str) -> str:
    titles = []
    for t in LAW_TITLE.findall(clean_text(text)):
        if LAW_END.search(t) and f"《{t}》" not in titles:
            titles.append(f"《{t}》")
    out = "；".join(titles)
    return out[:300]


def zj_text(s: str) -> str:
    for a, b in ZJ_TEXT:
        s = s.replace(a, b)
    return s


def adapt_to_zhejiang(item: dict, key: str, dept_code: str) -> dict:
    _, division, _ = ZJ_DEPTS[key]
    level = "2" if division == "330000" else "3"
    z = json.loads(json.dumps(item))
    z.update(
        {
            "implementation_code": dept_code + level + item["catalog_code"],
            "name": zj_text(item["name"]),
            "department": dept_code,
            "division": division,
            "use_level": level,
            "conditions": zj_text(item["conditions"]),
            "consult_phone": ZJ_CONTACT[key],
            "handle_location": (
                "（合成示例数据）杭州市民中心政务服务大厅"
                if division == "330100"
                else "（合成示例数据）浙江政务服务网在线办理"
            ),
            "source_url": "",
            "synthetic_adaptation": True,
            "adapted_from": item["implementation_code"],
        }
    )
    if re.search("广东|粤", z["legal_basis"]):
        z["legal_basis"] = "；".join(
            p for p in z["legal_basis"].split("；") if not re.search("广东|粤", p)
        )
    for m in z["materials"]:
        m["name"] = zj_text(m["name"])
    z["form_schema"]["title"] = f"{z['name']}申请表"
    for prop in z["form_schema"]["properties"].values():
        prop["title"] = zj_text(prop["title"])
        if "description" in prop:
            prop["description"] = zj_text(prop["description"])
        if "enum" in prop:
            prop["enum"] = [zj_text(v) for v in prop["enum"]]
    return z


def read_source_facts(source: Path) -> dict:
    text = (source / "SOURCE.txt").read_text(encoding="utf-8")
    facts = {}
    for key in ("Repo", "Commit", "License"):
        m = re.search(rf"^{key}:\s*(.+)$", text, re.M)
        if not m:
            raise SystemExit(f"SOURCE.txt has no {key}: line")
        facts[key.lower()] = m.group(1).strip()
    facts["commit_sha"] = facts["commit"].split()[0]
    return facts


def build(source: Path, log: list[str]) -> tuple[dict, dict]:
    facts = read_source_facts(source)
    by_code: dict[str, list[dict]] = {}
    with open(source / "guangdong.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                by_code.setdefault(rec["TASK_CODE"], []).append(rec)
    items: list[dict] = []
    departments: dict[str, dict] = {}
    gd_by_impl = {}
    for spec in CURATED:
        recs = by_code.get(spec["code"])
        if not recs:
            raise SystemExit(f"{spec['code']} not in source")
        if len(recs) > 1:
            log.append(f"{spec['code']}: {len(recs)} records in source, using the first")
        rec = recs[0]
        item = build_item(rec, spec, log)
        items.append(item)
        gd_by_impl[item["implementation_code"]] = (item, spec)
        dname = clean_text(rec["DEPT_NAME"])
        prev = departments.setdefault(
            item["department"],
            {
                "code": item["department"],
                "name": dname,
                "division": item["division"],
                "synthetic": False,
            },
        )
        if prev["name"] != dname or prev["division"] != item["division"]:
            raise SystemExit(f"department {item['department']} inconsistent: {prev} vs {dname}")
    # synthetic Zhejiang adaptations
    zj_codes = {}
    for seq, key in enumerate(ZJ_DEPTS, start=1):
        name, division, prefix = ZJ_DEPTS[key]
        zj_codes[key] = synthetic_uscc(prefix, division, seq)
        departments[zj_codes[key]] = {
            "code": zj_codes[key],
            "name": name,
            "division": division,
            "synthetic": True,
        }
    for item, spec in gd_by_impl.values():
        if spec.get("zhejiang"):
            items.append(adapt_to_zhejiang(item, spec["zhejiang"], zj_codes[spec["zhejiang"]]))
    used_depts = {i["department"] for i in items}
    dept_list = sorted(
        (d for c, d in departments.items() if c in used_depts),
        key=lambda d: (d["division"], d["code"]),
    )
    attribution = (
        f"Guangdong items: {facts['repo']} @ {facts['commit_sha']} (data/policy.json), "
        f"MIT License, Copyright (c) 2021 clarencekong; scraped from 广东政务服务网 "
        f"(gdzwfw.gov.cn), cleaned and curated for tongban. Zhejiang (330000/330100) "
        f"entries with synthetic_adaptation=true are synthetic adaptations with made-up "
        f"department codes, not real Zhejiang data."
    )
    catalog = {"attribution": attribution, "departments": dept_list, "items": items}
    return catalog, facts


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def validate(catalog: dict) -> list[str]:
    errors = []
    items, depts = catalog["items"], catalog["departments"]
    dept_by_code = {d["code"]: d for d in depts}

    def err(msg):
        errors.append(msg)

    for d in depts:
        if not uscc.is_valid(d["code"]):
            err(f"department USCC invalid: {d}")
    impl_codes = Counter(i["implementation_code"] for i in items)
    for code, n in impl_codes.items():
        if n > 1:
            err(f"duplicate implementation_code {code}")
    impl_set = set(impl_codes)
    for i in items:
        ic = i["implementation_code"]
        where = f"{ic} {i['name']}"
        if not uscc.is_valid(i["department"]):
            err(f"{where}: department USCC invalid")
        if i["department"] not in dept_by_code:
            err(f"{where}: department not listed")
        elif dept_by_code[i["department"]]["division"] != i["division"]:
            err(f"{where}: division differs from its department's")
        if len(ic) != 31 or ic != i["department"] + i["use_level"] + i["catalog_code"]:
            err(f"{where}: implementation_code != USCC + use_level + catalog_code (31 chars)")
        if len(i["catalog_code"]) != 12:
            err(f"{where}: catalog_code not 12 chars")
        if i["use_level"] not in ("2", "3"):
            err(f"{where}: use_level")
        if i["item_type"] not in set(ITEM_TYPES.values()):
            err(f"{where}: item_type")
        if not (0 < i["committed_limit_days"] <= i["legal_limit_days"]):
            err(f"{where}: committed {i['committed_limit_days']} > legal {i['legal_limit_days']}")
        if not 1 <= i["online_depth"] <= 4:
            err(f"{where}: online_depth")
        if not i["legal_basis"] or len(i["legal_basis"]) > 300:
            err(f"{where}: legal_basis empty or > 300 chars")
        if not i["conditions"] or len(i["conditions"]) > 600:
            err(f"{where}: conditions empty or > 600 chars")
        if not i["service_objects"] or not set(i["service_objects"]) <= {"citizen", "enterprise"}:
            err(f"{where}: service_objects")
        if not i["themes"]:
            err(f"{where}: no themes")
        if not i["materials"]:
            err(f"{where}: no materials")
        names = [m["name"] for m in i["materials"]]
        if len(names) != len(set(names)):
            err(f"{where}: duplicate materials")
        for m in i["materials"]:
            if m["material_type"] not in ("1", "2", "3") or m["source_type"] not in (
                "10",
                "20",
                "99",
            ):
                err(f"{where}: material codes {m}")
            if m["replaceable_by_shared_data"] and m["source_type"] != "20":
                err(f"{where}: shared material not source_type 20: {m}")
        if not any(m["mandatory"] for m in i["materials"]):
            err(f"{where}: no mandatory material")
        fs = i["form_schema"]
        props = fs["properties"]
        if fs.get("type") != "object" or fs.get("title") != f"{i['name']}申请表":
            err(f"{where}: form title/type")
        if not 3 <= len(props) <= 7:
            err(f"{where}: form has {len(props)} fields")
        if not fs["required"] or not set(fs["required"]) <= set(props):
            err(f"{where}: form required keys")
        if not any(p["type"] == "string" and "maxLength" in p for p in props.values()):
            err(f"{where}: no string field with maxLength")
        for key, p in props.items():
            if not SNAKE.match(key):
                err(f"{where}: form key {key} not snake_case")
            if p["type"] not in ("string", "integer", "number", "boolean") or not p.get("title"):
                err(f"{where}: form field {key}")
            if "format" in p and p["format"] not in FORMATS:
                err(f"{where}: form field {key} format {p['format']}")
            if "pattern" in p:
                re.compile(p["pattern"])
            if key in ("name", "applicant_name", "id_number", "phone", "applicant_id_number"):
                err(f"{where}: applicant's own data as form field {key}")
        if i["synthetic_adaptation"]:
            if i.get("adapted_from") not in impl_set:
                err(f"{where}: adapted_from does not reference an item")
            text = json.dumps(
                {k: v for k, v in i.items() if k != "adapted_from"}, ensure_ascii=False
            )
            if re.search("广东|广州|粤", text):
                err(f"{where}: Guangdong wording left in a Zhejiang adaptation")
            if not dept_by_code.get(i["department"], {}).get("synthetic"):
                err(f"{where}: synthetic item with non-synthetic department")
            if i["division"] not in ("330000", "330100"):
                err(f"{where}: Zhejiang division")
    # collection-level rules
    gd = [i for i in items if not i["synthetic_adaptation"]]
    zj = [i for i in items if i["synthetic_adaptation"]]
    if len(items) < 30:
        err(f"only {len(items)} items")
    if len(gd) != 36 or len(zj) != 8:
        err(f"expected 36 Guangdong + 8 Zhejiang items, got {len(gd)} + {len(zj)}")
    if len(depts) < 6:
        err("fewer than 6 departments")
    if len({i["department"] for i in gd}) < 8:
        err("Guangdong items span fewer than 8 departments")
    if sum(i["division"] == "440100" for i in gd) < 8:
        err("fewer than 8 广州市 items")
    if len({i["division"][:2] for i in items}) < 2:
        err("fewer than 2 provinces")
    if (
        sum(len(i["materials"]) >= 2 for i in gd) < 25
        or sum(len(i["materials"]) >= 2 for i in items) < 30
    ):
        err("too few items with >= 2 materials")
    return errors


def stats(catalog: dict) -> str:
    items = catalog["items"]
    mats = [m for i in items for m in i["materials"]]
    lines = [
        f"items: {len(items)} (Guangdong {sum(not i['synthetic_adaptation'] for i in items)}, "
        f"Zhejiang synthetic {sum(i['synthetic_adaptation'] for i in items)})",
        "items per division: "
        + ", ".join(f"{k}={v}" for k, v in sorted(Counter(i["division"] for i in items).items())),
        f"departments: {len(catalog['departments'])} "
        f"(synthetic {sum(d['synthetic'] for d in catalog['departments'])})",
        "item types: "
        + ", ".join(f"{k}={v}" for k, v in sorted(Counter(i["item_type"] for i in items).items())),
        f"cross_province: {sum(i['cross_province'] for i in items)}",
        "online_depth: "
        + ", ".join(
            f"{k}={v}" for k, v in sorted(Counter(i["online_depth"] for i in items).items())
        ),
        f"materials: {len(mats)}, non-mandatory {sum(not m['mandatory'] for m in mats)}, "
        f"replaceable {sum(m['replaceable_by_shared_data'] for m in mats)}",
        f"items with >= 2 materials: {sum(len(i['materials']) >= 2 for i in items)}",
    ]
    return "\n".join(lines)


ATTRIBUTION_TEMPLATE = """# demo_catalog.json — source and licence

`demo_catalog.json` is a curated demo 事项目录 / 实施清单 generated by
`scripts/build_demo_catalog.py`. Do not edit it by hand; edit the script and re-run it.

## Source (Guangdong items)

- Repository: {repo}
- Commit: {commit}
- File: `data/policy.json` (copied unchanged to `shared/data/service-guides/guangdong.jsonl`)
- Licence: MIT, Copyright (c) 2021 clarencekong (full text below)
- Origin of the data: scraped from 广东政务服务网 (gdzwfw.gov.cn). It contains 2,024 province-level
  and 238 Guangzhou 办事指南 records.

## What we did

- Selected {n_gd} real items: {n_gz} implemented by 广州市 departments (division 440100), the rest
  by 广东省 departments (440000). They span {n_gd_depts} departments.
- Used only records whose `TASK_CODE` starts with a valid 统一社会信用代码 and whose time
  limits have the form "N(工作日)". Where the legal limit is "无", the committed limit is used
  for both.
- Cleaned the records: normalised whitespace, removed conditional notes, garbage entries and
  materials that belong to other items, and removed duplicate materials. Names of
  33-character `TASK_CODE`s (实施编码 + 2-digit 办理项) were shortened. The platform's
  `gdbsTokenId` session parameter was removed from `source_url`.
- Replaced 受理条件 (acceptance conditions) that the scrape truncated, or that were empty
  placeholders, with short summaries of the relevant rules. The generator logs every such
  item.
- Added fields that the dump lacks, which are therefore ours and not the source's:
  `legal_basis` (taken from the source where it cites a law), `fee`, `cross_province`,
  the material classification, and `form_schema`. The dump has no fee data. Fee texts for
  出入境 and 车驾管 items state national standard amounts "以窗口公示为准"; check them
  before relying on them.
- Mapped `item_type` to GB/T 39046 A.1 codes. The dump itself uses 21 for 公共服务 and 20 for
  其他行政权力.

## Synthetic Zhejiang entries

The {n_zj} items with `"synthetic_adaptation": true` (divisions 330000 / 330100) are **not real
data**. Each copies the name, materials, conditions and time limits of the Guangdong item
named in its `adapted_from` field. Each is assigned to a plausibly named 浙江省 / 杭州市
department with a made-up USCC. The USCC has valid check characters and the main body
`MB99xxxx`. Those departments have `"synthetic": true`. Contact data is generic public
hotlines, and `source_url` is empty.

## Licence of the source (verbatim copy of LICENSE.txt)

```
{license}```
"""


def write_attribution(out_dir: Path, source: Path, facts: dict, catalog: dict) -> None:
    items = catalog["items"]
    gd = [i for i in items if not i["synthetic_adaptation"]]
    text = ATTRIBUTION_TEMPLATE.format(
        repo=facts["repo"],
        commit=facts["commit"],
        n_gd=len(gd),
        n_gz=sum(i["division"] == "440100" for i in gd),
        n_gd_depts=len({i["department"] for i in gd}),
        n_zj=len(items) - len(gd),
        license=(source / "LICENSE.txt").read_text(encoding="utf-8"),
    )
    (out_dir / "ATTRIBUTION.md").write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description="Build the tongban demo catalog fixture.")
    ap.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="folder with guangdong.jsonl, SOURCE.txt and LICENSE.txt",
    )
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    ap.add_argument("-v", "--verbose", action="store_true", help="print cleaning log")
    args = ap.parse_args()
    log: list[str] = []
    catalog, facts = build(args.source, log)
    errors = validate(catalog)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(f"{len(errors)} validation error(s); nothing written")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / "demo_catalog.json"
    out.write_text(json.dumps(catalog, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    write_attribution(args.out_dir, args.source, facts, catalog)
    if args.verbose:
        print("\n".join(log))
    print(stats(catalog))
    print(f"wrote {out} and {args.out_dir / 'ATTRIBUTION.md'}")


if __name__ == "__main__":
    main()
