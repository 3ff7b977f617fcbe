"""Synthetic world for ParcelGuard: seeded express manifests into Hainan, with hidden truth.

Role: the project's only source of labelled data. It simulates the benign flow (e-commerce
merchants, individuals, returns, tourists at hotels), trafficking rings that rotate their
identities, and diffuse low-level risk (user networks, small dealers) hidden among ordinary
senders. Every
parcel gets a true contraband probability ``p``; its label is a seeded Bernoulli draw, so
models can be compared with the oracle that ranks by ``p``.

Outputs are manifests (schema version 1), truth lines and a fully screened outcome history
for priority-origin parcels into Hainan. Training/evaluation tooling only: nothing in the
scoring path may import it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Weighted = tuple[tuple[str, float], ...]

TZ = dt.timezone(dt.timedelta(hours=8))
SCHEMA_VERSION = 1
# Pool sizes and ring rates are tuned at this daily volume and scale linearly with it.
BASE_VOLUME = 8000.0
NEW_PATTERN = "sichuan_electronics"
PATTERNS = (
    "benign",
    "diffuse",
    "yunnan_tea",
    "guangdong_liquid",
    "precursor_sample",
    "nitrous_kitchen",
    NEW_PATTERN,
)
CONTRABAND_TYPES = ("methamphetamine", "heroin", "ketamine", "ghb_liquid", "nitrous_oxide", "precursor")
# Where drugs come from in this world; deliberately independent of the config's priority list,
# which only decides which parcels get a screened outcome.
SOURCE_PROVINCES = frozenset({"Yunnan", "Guangdong", "Guangxi", "Sichuan", "Guizhou"})


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class WorldConfig:
    days: int = 30
    parcels_per_day: int = 8000  # all parcels, all origins (a shift-day promo adds merchant volume)
    start: dt.date = dt.date(2026, 10, 1)
    seed: int = 7
    new_pattern_day: int | None = None  # 0-based day from which the new ring appears
    shift_day: int | None = None  # 0-based day from which the benign shift applies
    priority_provinces: tuple[str, ...] = ("Yunnan", "Guangdong", "Guangxi", "Sichuan", "Guizhou")


@dataclass(frozen=True)
class WorldFiles:
    manifests: Path
    truth: Path
    outcomes: Path


def generate(config: WorldConfig) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yields (manifest, truth) in non-decreasing accepted_at order, day by day."""
    for manifest, truth, _ in _parcels(config):
        yield manifest, truth


def write_world(
    config: WorldConfig, out_dir: Path, progress: Callable[[int], None] | None = None
) -> WorldFiles:
    """Writes manifests.jsonl, truth.jsonl, outcomes.jsonl into out_dir (orjson, one object per line).

    progress(n) is called once per day with the number of parcels written so far.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files = WorldFiles(out_dir / "manifests.jsonl", out_dir / "truth.jsonl", out_dir / "outcomes.jsonl")
    priority = frozenset(config.priority_provinces)
    nl = orjson.OPT_APPEND_NEWLINE
    written = 0
    with (
        files.manifests.open("wb") as fm,
        files.truth.open("wb") as ft,
        files.outcomes.open("wb") as fo,
    ):
        world = _World(config)
        for day in range(config.days):
            parcels = world.day(day)
            fm.write(b"".join(orjson.dumps(m, option=nl) for m, _, _ in parcels))
            ft.write(b"".join(orjson.dumps(t, option=nl) for _, t, _ in parcels))
            fo.write(
                b"".join(
                    orjson.dumps(o, option=nl)
                    for m, _, o in parcels
                    if m["origin"]["province"] in priority and m["destination"]["province"] == "Hainan"
                )
            )
            written += len(parcels)
            if progress is not None:
                progress(written)
    return files


# --------------------------------------------------------------------------- geography


@dataclass(frozen=True)
class _City:
    province: str
    name: str
    code: str  # outlet-id prefix
    postcode: int
    districts: tuple[str, ...]
    people: float  # relative volume of individual senders
    shops: float  # relative volume of e-commerce merchants
    goods: tuple[str, ...]  # local specialities (profile keys)
    diffuse: float = 0.0  # share of local individuals carrying latent low-level risk (user networks)


_YN_GOODS = ("tea", "puer", "specialty")
ORIGINS: tuple[_City, ...] = (
    _City("Yunnan", "Kunming", "KM", 650000, ("Guandu", "Wuhua", "Panlong", "Xishan", "Chenggong"), 3.4, 1.6, (*_YN_GOODS, "health"), 0.28),
    _City("Yunnan", "Jinghong", "JH", 666100, ("Jinghong", "Menghai", "Mengla"), 0.8, 0.7, ("puer", "tea", "specialty"), 0.45),
    _City("Yunnan", "Lincang", "LC", 677000, ("Linxiang", "Gengma", "Zhenkang"), 0.5, 0.35, ("puer", "tea"), 0.45),
    _City("Yunnan", "Ruili", "RL", 678600, ("Ruili", "Jiegao", "Mangshi"), 0.45, 0.4, ("jade", "specialty"), 0.50),
    _City("Yunnan", "Pu'er", "PE", 665000, ("Simao", "Ning'er"), 0.5, 0.6, ("puer", "tea"), 0.34),
    _City("Yunnan", "Dali", "DL", 671000, ("Dali", "Xiaguan"), 0.5, 0.5, ("specialty", "tea"), 0.22),
    _City("Yunnan", "Baoshan", "BS", 678000, ("Longyang", "Tengchong"), 0.35, 0.25, ("specialty", "jade"), 0.34),
    _City("Guangdong", "Guangzhou", "GZ", 510000, ("Tianhe", "Baiyun", "Haizhu", "Panyu", "Yuexiu", "Liwan"), 4.2, 6.5, ("clothes", "cosmetics", "food", "household"), 0.20),
    _City("Guangdong", "Shenzhen", "SZ", 518000, ("Futian", "Nanshan", "Longgang", "Bao'an", "Longhua"), 3.6, 5.5, ("electronics", "cosmetics", "clothes"), 0.14),
    _City("Guangdong", "Zhanjiang", "ZJ", 524000, ("Chikan", "Xiashan", "Mazhang", "Leizhou", "Xuwen"), 2.4, 0.7, ("food", "beverage"), 0.39),
    _City("Guangdong", "Dongguan", "DG", 523000, ("Nancheng", "Dongcheng", "Humen", "Chang'an"), 1.6, 3.2, ("electronics", "clothes", "industrial", "toys"), 0.20),
    _City("Guangdong", "Foshan", "FS", 528000, ("Chancheng", "Nanhai", "Shunde"), 1.1, 2.2, ("household", "kitchenware", "parts"), 0.14),
    _City("Guangdong", "Shantou", "ST", 515000, ("Longhu", "Jinping", "Chaoyang"), 0.8, 1.6, ("toys", "food"), 0.17),
    _City("Guangdong", "Maoming", "MM", 525000, ("Maonan", "Dianbai"), 0.9, 0.3, ("food",), 0.28),
    _City("Guangxi", "Nanning", "NN", 530000, ("Qingxiu", "Xixiangtang", "Jiangnan", "Xingning"), 2.2, 1.1, ("food", "specialty"), 0.25),
    _City("Guangxi", "Liuzhou", "LZ", 545000, ("Chengzhong", "Yufeng"), 0.7, 0.5, ("food",), 0.17),
    _City("Guangxi", "Guilin", "GL", 541000, ("Xiufeng", "Qixing"), 0.6, 0.4, ("food", "tea"), 0.14),
    _City("Guangxi", "Beihai", "BH", 536000, ("Haicheng", "Yinhai"), 0.7, 0.3, ("food",), 0.25),
    _City("Guangxi", "Yulin", "YL", 537000, ("Yuzhou", "Fumian"), 0.6, 0.4, ("health",), 0.20),
    _City("Sichuan", "Chengdu", "CD", 610000, ("Jinjiang", "Wuhou", "Chenghua", "Jinniu", "Qingyang", "Shuangliu"), 3.2, 2.6, ("food", "electronics", "clothes"), 0.17),
    _City("Sichuan", "Mianyang", "MY", 621000, ("Fucheng", "Youxian"), 0.6, 0.4, ("electronics",), 0.14),
    _City("Sichuan", "Xichang", "XC", 615000, ("Xichang",), 0.35, 0.1, ("specialty",), 0.34),
    _City("Sichuan", "Yibin", "YB", 644000, ("Cuiping", "Xuzhou"), 0.5, 0.35, ("beverage",), 0.14),
    _City("Guizhou", "Guiyang", "GY", 550000, ("Nanming", "Yunyan", "Guanshanhu", "Huaxi"), 1.6, 0.8, ("food", "beverage"), 0.20),
    _City("Guizhou", "Zunyi", "ZY", 563000, ("Honghuagang", "Huichuan", "Renhuai"), 0.6, 0.4, ("beverage",), 0.14),
    _City("Zhejiang", "Hangzhou", "HZ", 310000, ("Xihu", "Shangcheng", "Gongshu", "Binjiang", "Yuhang"), 1.1, 5.0, ("clothes", "cosmetics", "tea", "electronics")),
    _City("Zhejiang", "Yiwu", "YW", 322000, ("Choucheng", "Futian", "Jiangdong"), 0.3, 4.5, ("household", "toys", "gift")),
    _City("Zhejiang", "Ningbo", "NB", 315000, ("Yinzhou", "Haishu"), 0.5, 1.4, ("household", "kitchenware")),
    _City("Zhejiang", "Wenzhou", "WZ", 325000, ("Lucheng", "Ouhai"), 0.6, 1.4, ("clothes", "parts")),
    _City("Jiangsu", "Suzhou", "SU", 215000, ("Gusu", "Wuzhong", "Industrial Park"), 0.8, 2.4, ("clothes", "electronics")),
    _City("Jiangsu", "Nanjing", "NJ", 210000, ("Xuanwu", "Gulou", "Jianye"), 0.6, 0.8, ("books", "food")),
    _City("Shanghai", "Shanghai", "SH", 200000, ("Pudong", "Minhang", "Jiading", "Xuhui", "Baoshan"), 1.5, 3.0, ("cosmetics", "electronics", "clothes", "industrial")),
    _City("Beijing", "Beijing", "BJ", 100000, ("Chaoyang", "Haidian", "Dongcheng", "Fengtai"), 1.2, 1.4, ("documents", "books")),
    _City("Fujian", "Xiamen", "XM", 361000, ("Siming", "Huli"), 0.5, 1.0, ("tea", "food")),
    _City("Fujian", "Quanzhou", "QZ", 362000, ("Fengze", "Jinjiang"), 0.6, 1.8, ("clothes",)),
    _City("Fujian", "Fuzhou", "FZ", 350000, ("Gulou", "Cangshan"), 0.5, 0.7, ("tea",)),
    _City("Hubei", "Wuhan", "WH", 430000, ("Wuchang", "Hongshan", "Jianghan"), 1.3, 1.0, ("food", "clothes")),
    _City("Hunan", "Changsha", "CS", 410000, ("Yuelu", "Furong", "Tianxin"), 1.1, 0.8, ("food",)),
    _City("Henan", "Zhengzhou", "ZZ", 450000, ("Jinshui", "Zhongyuan"), 0.9, 0.8, ("food", "clothes")),
    _City("Shandong", "Linyi", "LY", 276000, ("Lanshan", "Hedong"), 0.4, 1.4, ("household", "parts")),
    _City("Shandong", "Jinan", "JN", 250000, ("Lixia", "Shizhong"), 0.5, 0.5, ("health",)),
    _City("Heilongjiang", "Harbin", "HRB", 150000, ("Nangang", "Daoli", "Xiangfang"), 0.9, 0.3, ("food", "health")),
)
_CITY_INDEX = {c.name: i for i, c in enumerate(ORIGINS)}

PROVINCE_CODES = {
    "Yunnan": "53", "Guangdong": "44", "Guangxi": "45", "Sichuan": "51", "Guizhou": "52",
    "Zhejiang": "33", "Jiangsu": "32", "Shanghai": "31", "Beijing": "11", "Fujian": "35",
    "Hubei": "42", "Hunan": "43", "Henan": "41", "Shandong": "37", "Heilongjiang": "23", "Hainan": "46",
}


@dataclass(frozen=True)
class _Area:
    province: str
    city: str
    district: str
    hub: str
    weight: float
    roads: tuple[str, ...]


_HAIKOU_ROADS = ("Guoxing Ave", "Haixiu Rd", "Longkun S Rd", "Binhai Ave", "Nanhai Ave", "Haidian 3rd Rd", "Renmin Ave", "Fengxiang Rd", "Qiongshan Ave", "Lantian Rd", "Jinpan Rd", "Datong Rd", "Hairui Rd")
_SANYA_ROADS = ("Jiefang Rd", "Yuya Rd", "Sanya Bay Rd", "Haitang N Rd", "Yingbin Rd", "Fenghuang Rd", "Luling Rd", "Xinfeng St", "Hedong Rd")
_TOWN_ROADS = ("Renmin Rd", "Zhongshan Rd", "Jiefang Rd", "Xinhua Rd", "Binhai Rd", "Wenhua Rd")
AREAS: tuple[_Area, ...] = (
    _Area("Hainan", "Haikou", "Meilan", "HAK-MEILAN", 0.17, _HAIKOU_ROADS),
    _Area("Hainan", "Haikou", "Qiongshan", "HAK-MEILAN", 0.10, _HAIKOU_ROADS),
    _Area("Hainan", "Haikou", "Longhua", "HAK-XIUYING", 0.17, _HAIKOU_ROADS),
    _Area("Hainan", "Haikou", "Xiuying", "HAK-XIUYING", 0.10, _HAIKOU_ROADS),
    _Area("Hainan", "Sanya", "Tianya", "SYX-TIANYA", 0.10, _SANYA_ROADS),
    _Area("Hainan", "Sanya", "Jiyang", "SYX-TIANYA", 0.09, _SANYA_ROADS),
    _Area("Hainan", "Sanya", "Haitang", "SYX-TIANYA", 0.05, _SANYA_ROADS),
    _Area("Hainan", "Sanya", "Yazhou", "SYX-TIANYA", 0.03, _SANYA_ROADS),
    _Area("Hainan", "Danzhou", "Nada", "HAK-XIUYING", 0.05, _TOWN_ROADS),
    _Area("Hainan", "Qionghai", "Jiaji", "HAK-MEILAN", 0.04, _TOWN_ROADS),
    _Area("Hainan", "Wenchang", "Wencheng", "HAK-MEILAN", 0.03, _TOWN_ROADS),
    _Area("Hainan", "Wanning", "Wancheng", "SYX-TIANYA", 0.04, _TOWN_ROADS),
    _Area("Hainan", "Lingshui", "Yelin", "SYX-TIANYA", 0.03, _TOWN_ROADS),
)
# Transit parcels for other provinces pass the Xiuying port hub; they are out of scope.
OTHER_AREAS: tuple[_Area, ...] = (
    _Area("Guangdong", "Zhanjiang", "Xiashan", "HAK-XIUYING", 0.3, _TOWN_ROADS),
    _Area("Guangdong", "Guangzhou", "Tianhe", "HAK-XIUYING", 0.2, _TOWN_ROADS),
    _Area("Guangxi", "Beihai", "Haicheng", "HAK-XIUYING", 0.2, _TOWN_ROADS),
    _Area("Hunan", "Changsha", "Yuelu", "HAK-XIUYING", 0.15, _TOWN_ROADS),
    _Area("Fujian", "Xiamen", "Siming", "HAK-XIUYING", 0.15, _TOWN_ROADS),
)
ALL_AREAS = AREAS + OTHER_AREAS

_SURNAMES = (
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu",
    "Guo", "He", "Lin", "Luo", "Gao", "Zheng", "Liang", "Xie", "Song", "Tang", "Han", "Feng", "Deng", "Cao",
    "Peng", "Zeng", "Xiao", "Tian", "Dong", "Pan", "Yuan", "Cai", "Jiang", "Yu", "Du", "Ye", "Cheng", "Wei",
    "Su", "Lu", "Ding", "Ren", "Shen", "Yao", "Fu", "Fan", "Fang", "Mo", "Qin", "Lai", "Wen", "Ou", "Fu",
)
_SURNAME_W = np.array([1.0 / (i + 4) for i in range(len(_SURNAMES))])
_GIVEN = (
    "Wei", "Fang", "Na", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yang", "Yong", "Yan", "Jie", "Juan", "Tao",
    "Ming", "Chao", "Xiu", "Xia", "Ping", "Gang", "Hui", "Hua", "Hong", "Jian", "Guo", "Ying", "Lan", "Mei",
    "Xin", "Yu", "Hao", "Kai", "Bo", "Lin", "Rui", "Zhi", "Peng", "Fei", "Dan", "Ting", "Qing", "Xue", "Long",
    "Hai", "Bin", "Feng", "Shan", "Wen", "Jia", "Xiao", "Zi", "Han", "Yi", "Chen", "Yun", "Ling", "Cheng", "Bao",
)
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180", "181", "182", "183",
    "184", "185", "186", "187", "188", "189", "191", "198", "199",
)
_SHOP_WORDS = ("Jiale", "Hengda", "Xinyu", "Huamei", "Yunxiang", "Tianli", "Baisheng", "Jinfeng", "Longteng", "Mingrui", "Haoyun", "Ruixin", "Yihe", "Fuxing")
_SHOP_SUFFIX = ("Trading", "Store", "Flagship Store", "E-commerce", "Co., Ltd.", "Shop")
_COMMUNITY = ("Jiahe", "Binhai", "Yelin", "Coconut", "Haiyue", "Lvzhou", "Jinlong", "Huayuan", "Nanguo", "Yuhai", "Xinghai", "Baihua", "Shimao", "Vanke", "Evergreen", "Fuli", "Haiwan", "Tianyi")
_COMMUNITY_KIND = ("Garden", "Mingyuan", "Huafu", "New Village", "Residence", "Apartments")
_HOTEL_A = ("Seaview", "Coconut Grove", "Blue Bay", "Palm Beach", "Golden Coast", "Hibiscus", "Harbour", "Tropical", "Ocean Pearl", "Sunrise", "Yalong", "Dadonghai")
_BUSINESS_KINDS = ("Trading", "Restaurant", "Bar", "Supermarket", "Pharmacy", "Studio", "Hardware", "Salon")
_HOTEL_B = ("Hotel", "Resort", "Holiday Inn", "Boutique Hotel", "Youth Hostel", "Apartment Hotel")


# --------------------------------------------------------------------------- goods


@dataclass(frozen=True)
class _Profile:
    key: str
    descriptions: tuple[str, ...]
    categories: Weighted  # category mix when an individual (or a ring) declares it
    hs_codes: tuple[str, ...]
    value: tuple[float, float]  # lognormal median (CNY) and sigma
    token: float  # chance of a token declared value (0 or 1)
    weight: tuple[float, float]  # lognormal median (g) and sigma
    density: tuple[float, float]  # gross g/cm^3 range, packaging included
    max_qty: int
    hs_rate: float | None = None  # overrides the sender kind's usual HS-code presence


_G, _O, _C, _S = "gift", "other", "commercial", "sample"
PROFILES: tuple[_Profile, ...] = (
    _Profile("clothes", ("clothes", "T-shirt", "dress", "jacket", "apparel", "pants", "shoes"), ((_G, .35), (_O, .45), (_C, .2)), ("620520", "611020", "620462", "640299", "610910"), (120, .7), .04, (600, .6), (.08, .28), 4),
    _Profile("cosmetics", ("cosmetics", "skin care", "face cream", "lipstick", "toner", "perfume"), ((_G, .5), (_O, .3), (_C, .2)), ("330499", "330410", "330300"), (180, .8), .04, (420, .6), (.25, .65), 5),
    _Profile("electronics", ("phone case", "charger", "data cable", "earphones", "phone accessories", "power bank", "electronics"), ((_G, .25), (_O, .45), (_C, .3)), ("392690", "850440", "854442", "851830", "850760"), (70, .9), .03, (280, .7), (.12, .55), 4),
    _Profile("tea", ("tea", "green tea", "black tea", "tea gift box", "Dianhong tea", "oolong tea"), ((_G, .6), (_O, .3), (_C, .1)), ("090210", "090230", "090240"), (160, .8), .06, (700, .5), (.1, .4), 4),
    _Profile("puer", ("Pu'er tea", "Pu'er tea cake", "Pu'er brick", "compressed tea", "tea"), ((_G, .55), (_O, .3), (_C, .15)), ("090230", "090240"), (200, 1.0), .06, (1400, .55), (.45, 1.0), 7),
    _Profile("specialty", ("local specialty", "dried mushrooms", "flower cakes", "coffee beans", "walnuts", "dried fruit"), ((_G, .6), (_O, .35), (_C, .05)), ("071239", "190590", "090111", "080232", "081340"), (110, .7), .07, (1100, .6), (.15, .55), 5),
    _Profile("food", ("snacks", "food", "sausage", "dried seafood", "preserved fruit", "mooncakes", "rice noodles"), ((_G, .5), (_O, .4), (_C, .1)), ("160100", "030559", "190590", "200899", "190230"), (90, .7), .07, (1600, .6), (.2, .65), 6),
    _Profile("jade", ("jade", "jade bracelet", "jewelry", "handicraft"), ((_G, .6), (_O, .2), (_C, .2)), ("710391", "711790", "711319"), (800, 1.3), .08, (260, .6), (.9, 2.5), 3),
    _Profile("documents", ("documents", "files", "contract", "certificates", "invoices"), (("documents", .9), (_O, .1)), (), (20, .5), .85, (180, .5), (.1, .4), 1),
    _Profile("gift", ("gift", "gifts", "daily goods", "personal items", "souvenir", "parts"), ((_G, .7), (_O, .3)), (), (60, 1.0), .25, (900, .7), (.1, .55), 3),
    _Profile("household", ("daily goods", "household items", "kitchen supplies", "cleaning supplies", "towels", "storage boxes"), ((_G, .2), (_O, .6), (_C, .2)), ("392410", "732393", "340220", "630260", "392490"), (60, .8), .05, (1300, .7), (.1, .45), 6),
    _Profile("kitchenware", ("kitchen supplies", "cookware", "cast iron pan", "kitchen knives", "baking supplies", "cream chargers"), ((_O, .6), (_C, .3), (_G, .1)), ("732391", "821192", "732393", "761510"), (150, .7), .03, (2400, .5), (.45, 1.5), 3),
    _Profile("beverage", ("beverage", "drinks", "fruit juice", "wine", "liquor", "soy sauce", "Baijiu"), ((_G, .5), (_O, .4), (_C, .1)), ("220290", "220421", "220890", "210390", "200989"), (150, .9), .04, (3000, .5), (.55, .98), 6),
    _Profile("industrial", ("industrial sample", "chemical sample", "reagent sample", "cleaning agent", "coating sample", "lab supplies", "adhesive"), ((_S, .6), (_C, .3), (_O, .1)), ("382499", "340290", "320890", "340220", "350691", "381400", "382499", "292429"), (60, 1.0), .08, (1800, .7), (.5, 1.2), 4),
    _Profile("parts", ("parts", "auto parts", "machine parts", "hardware", "tools", "bearings"), ((_O, .5), (_C, .45), (_S, .05)), ("870899", "848790", "820559", "731815", "848210"), (180, .9), .04, (2200, .7), (.6, 2.3), 8),
    _Profile("books", ("books", "textbooks", "magazines"), ((_G, .3), (_O, .6), (_C, .1)), ("490199", "490290"), (80, .6), .03, (1500, .5), (.5, .85), 6),
    _Profile("toys", ("toys", "stationery", "children's toys", "puzzle"), ((_G, .6), (_O, .3), (_C, .1)), ("950300", "960899", "482010"), (70, .8), .03, (600, .6), (.08, .3), 5),
    _Profile("health", ("health supplements", "vitamins", "herbal medicine", "traditional medicine", "medicine"), ((_G, .5), (_O, .4), (_C, .1)), ("210690", "300490", "121190", "293629"), (200, .9), .04, (600, .6), (.25, .65), 6),
    # Ring disguises: each overlaps a benign profile on every single field, but not jointly.
    _Profile("ring_tea", ("tea", "Pu'er tea", "Pu'er tea cake", "tea gift box", "local specialty", "gift", "dried mushrooms"), ((_G, .55), (_O, .3), (_C, .15)), ("090230", "090240"), (70, 1.0), .2, (1500, .45), (.55, 1.2), 3, .06),
    _Profile("ring_liquid", ("beverage", "fruit juice", "drinks", "cosmetics", "toner", "essence water", "perfume"), ((_G, .45), (_O, .4), (_C, .15)), ("220290", "330499"), (90, .8), .1, (2600, .5), (.6, 1.0), 6, .08),
    _Profile("ring_precursor", ("industrial sample", "chemical reagent", "cleaning agent", "solvent sample", "lab supplies", "coating sample"), ((_S, .6), (_C, .35), (_O, .05)), ("291639", "292429", "293299", "291470", "292142", "293490", "382499", "340290"), (120, .9), .05, (4500, .6), (.7, 1.3), 4, .85),
    _Profile("ring_n2o", ("kitchen supplies", "baking supplies", "cream chargers", "kitchenware", "bar supplies", "household items"), ((_C, .4), (_O, .45), (_G, .15)), ("732393", "761510", "731100"), (150, .7), .05, (3200, .5), (.95, 2.0), 10, .3),
    _Profile("ring_electronics", ("phone accessories", "phone case", "charger", "earphones", "electronics", "power bank", "data cable"), ((_C, .65), (_S, .1), (_G, .25)), ("392690", "850440", "851830", "850760"), (160, .6), .02, (700, .5), (.4, .95), 5, .4),
)
_PROFILE_INDEX = {p.key: i for i, p in enumerate(PROFILES)}
_PERSON_MIX: Weighted = (
    ("clothes", .17), ("documents", .09), ("gift", .14), ("food", .10), ("cosmetics", .08), ("household", .08),
    ("electronics", .08), ("health", .05), ("tea", .04), ("specialty", .03), ("books", .04), ("toys", .04),
    ("beverage", .03), ("parts", .02), ("kitchenware", .01),
)
_SHOP_MIX: Weighted = (
    ("clothes", .2), ("cosmetics", .12), ("electronics", .14), ("household", .12), ("toys", .06), ("food", .1),
    ("books", .04), ("health", .06), ("parts", .06), ("industrial", .03), ("kitchenware", .04), ("beverage", .03),
)
# Diffuse-risk senders pick vague, cheap person-to-person parcels more often than average.
_DIFFUSE_MIX: Weighted = (("gift", .3), ("clothes", .2), ("household", .15), ("food", .15), ("cosmetics", .1), ("tea", .1))


# --------------------------------------------------------------------------- rings


@dataclass(frozen=True)
class RingSpec:
    """How one trafficking ring ships: route, disguise, identities and drops."""

    pattern: str
    origins: Weighted  # origin city -> share
    rate: float  # parcels per day at BASE_VOLUME
    disguise: str  # profile key
    drugs: Weighted
    grams: tuple[float, float]
    p: tuple[float, float]  # contraband probability range for a loaded shipment
    account_age: tuple[int, int]  # days from account opening to first use
    uses: tuple[int, int]  # parcels per sender identity before it is burnt
    unverified: float  # share accepted without a real-name check (lapsed franchise outlets)
    payment: Weighted
    service: Weighted
    address_types: Weighted
    dest_cities: Weighted
    drops: int  # concurrently active recipients
    drop_uses: tuple[int, int]  # parcels per recipient before it is replaced
    complicit: float  # share accepted at the ring's complicit outlets
    mules: float  # share of drops that are real residents with their own history
    business: bool = False
    burst: tuple[int, int] = (1, 1)  # parcels sent to one recipient in a single burst
    hours: tuple[int, int] = (9, 22)


RINGS: tuple[RingSpec, ...] = (
    RingSpec(
        "yunnan_tea", (("Kunming", .5), ("Pu'er", .2), ("Jinghong", .15), ("Dali", .15)), 2.6, "ring_tea",
        (("methamphetamine", .65), ("heroin", .25), ("ketamine", .1)), (100, 1500), (.55, .8), (1, 10), (2, 5), .25,
        (("prepaid", .5), ("cash", .4), ("cod", .1)), (("standard", .6), ("express", .3), ("economy", .1)),
        (("locker", .45), ("pickup_point", .3), ("home", .2), ("hotel", .05)), (("Haikou", .6), ("Sanya", .3), ("Danzhou", .1)),
        3, (6, 16), .4, .3,
    ),
    RingSpec(
        "yunnan_tea", (("Lincang", .3), ("Ruili", .25), ("Baoshan", .15), ("Kunming", .3)), 2.2, "ring_tea",
        (("methamphetamine", .6), ("heroin", .3), ("ketamine", .1)), (100, 1200), (.5, .75), (2, 12), (2, 4), .3,
        (("prepaid", .45), ("cash", .45), ("cod", .1)), (("standard", .7), ("express", .2), ("economy", .1)),
        (("pickup_point", .4), ("locker", .35), ("home", .25)), (("Haikou", .5), ("Sanya", .35), ("Qionghai", .15)),
        2, (5, 12), .45, .3,
    ),
    RingSpec(
        "guangdong_liquid", (("Zhanjiang", .5), ("Guangzhou", .25), ("Dongguan", .15), ("Maoming", .1)), 3.2, "ring_liquid",
        (("ghb_liquid", .85), ("ketamine", .15)), (300, 3000), (.4, .7), (0, 5), (2, 4), .15,
        (("cash", .6), ("prepaid", .3), ("cod", .1)), (("standard", .5), ("express", .5)),
        (("hotel", .55), ("home", .3), ("locker", .15)), (("Sanya", .6), ("Haikou", .4)),
        2, (2, 6), .3, .1, burst=(2, 5), hours=(12, 23),
    ),
    RingSpec(
        "precursor_sample", (("Guangzhou", .3), ("Dongguan", .3), ("Foshan", .15), ("Nanning", .15), ("Guiyang", .1)), 1.5, "ring_precursor",
        (("precursor", 1.0),), (1000, 10000), (.3, .6), (20, 240), (8, 20), .02,
        (("business_account", .7), ("prepaid", .3)), (("economy", .4), ("standard", .5), ("express", .1)),
        (("business", .7), ("home", .3)), (("Haikou", .55), ("Danzhou", .25), ("Sanya", .2)),
        2, (10, 25), .2, 0.0, business=True, hours=(14, 21),
    ),
    RingSpec(
        "nitrous_kitchen", (("Guangzhou", .35), ("Foshan", .3), ("Shenzhen", .2), ("Nanning", .15)), 2.4, "ring_n2o",
        (("nitrous_oxide", 1.0),), (500, 6000), (.5, .8), (3, 30), (3, 6), .1,
        (("prepaid", .6), ("cod", .25), ("cash", .15)), (("standard", .6), ("express", .3), ("economy", .1)),
        (("business", .4), ("home", .3), ("locker", .3)), (("Haikou", .5), ("Sanya", .5)),
        4, (4, 10), .3, .3,
    ),
)
NEW_RING = RingSpec(
    NEW_PATTERN, (("Chengdu", .7), ("Mianyang", .15), ("Guiyang", .15)), 4.0, "ring_electronics",
    (("ketamine", .5), ("methamphetamine", .4), ("heroin", .1)), (50, 800), (.5, .75), (90, 700), (5, 10), .01,
    (("prepaid", .8), ("business_account", .2)), (("express", .5), ("standard", .5)),
    (("home", .85), ("locker", .15)), (("Haikou", .6), ("Sanya", .4)),
    5, (2, 4), .1, .5, business=True,
)
SHOP_SHARE = 0.44  # e-commerce share of the daily flow before any promo
NEWCOMER_SHARE = 0.09  # individuals' parcels sent from a freshly opened account
# Latent per-parcel probability of a diffuse-risk sender (log-uniform). Spread thinly over many
# ordinary-looking parcels, it is the share of contraband that no manifest model can rank well.
DIFFUSE_RISK = (0.001, 0.015)
_DIFFUSE_DRUGS: Weighted = (("methamphetamine", .5), ("ketamine", .3), ("heroin", .1), ("ghb_liquid", .1))
_BACKGROUND_DRUGS: Weighted = (("methamphetamine", .4), ("ketamine", .3), ("heroin", .1), ("ghb_liquid", .1), ("nitrous_oxide", .1))

_CARRIERS: Weighted = (("ZTO", .22), ("YTO", .17), ("YD", .15), ("JT", .15), ("STO", .12), ("SF", .11), ("EMS", .08))
# (prefix, random digits): formats follow the carriers' public waybill numbers.
_WAYBILL = {"JT": ("JT5", 12), "SF": ("SF1", 12), "YTO": ("YT4", 12), "ZTO": ("78", 12), "STO": ("77", 11), "YD": ("43", 11), "EMS": ("11", 11)}
_HOUR_PERSON = (0, 0, 0, 0, 0, 0, 0, .5, 2, 4, 5, 5, 4, 3.5, 3.5, 3.5, 4, 5, 6, 6, 5, 3, 1.5, .3)
_HOUR_SHOP = (.1, 0, 0, 0, 0, 0, 0, .2, .5, 1, 1.5, 2, 2, 2.5, 3, 4, 6, 8, 9, 8, 5, 2, .8, .3)
_WEEKDAY = (1.05, 1.05, 1.05, 1.05, 1.1, 0.9, 0.8)  # Monday first: weekends are quieter
_TIMES = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400))


# --------------------------------------------------------------------------- helpers


def _table(items: Weighted) -> tuple[tuple[str, ...], FloatArray]:
    names = tuple(k for k, _ in items)
    cum = np.cumsum(np.array([w for _, w in items], dtype=np.float64))
    return names, cum / cum[-1]


def _pick(rng: np.random.Generator, cum: FloatArray, n: int) -> IntArray:
    """Weighted draws by inverse CDF: O(n log k) and cheap to redo when a pool grows."""
    idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    return np.minimum(idx, len(cum) - 1).astype(np.int64)


def _pick_names(rng: np.random.Generator, items: Weighted, n: int) -> list[str]:
    names, cum = _table(items)
    return [names[i] for i in _pick(rng, cum, n).tolist()]


def _pick1(seq: Sequence[str], u: float) -> str:
    return seq[int(u * len(seq))]


def _hour_cum(weights: Sequence[float]) -> FloatArray:
    return np.cumsum(np.array(weights, dtype=np.float64))


class _Ids:
    """Fake but well-formed identities; phones and accounts are kept unique."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._seen: set[str] = set()
        self._surname_cum = np.cumsum(_SURNAME_W)

    def surnames(self, n: int) -> list[str]:
        return [_SURNAMES[i] for i in _pick(self.rng, self._surname_cum, n).tolist()]

    def names(self, n: int, surnames: Sequence[str | None] | None = None) -> list[str]:
        drawn = self.surnames(n)
        sur = drawn if surnames is None else [s or d for s, d in zip(surnames, drawn, strict=True)]
        g1 = self.rng.integers(0, len(_GIVEN), n).tolist()
        g2 = self.rng.integers(0, len(_GIVEN), n).tolist()
        single = (self.rng.random(n) < 0.3).tolist()
        return [
            f"{s} {_GIVEN[a]}" if one else f"{s} {_GIVEN[a]}{_GIVEN[b].lower()}"
            for s, a, b, one in zip(sur, g1, g2, single, strict=True)
        ]

    def _unique(self, make: Callable[[], str]) -> str:
        value = make()
        while value in self._seen:
            value = make()
        self._seen.add(value)
        return value

    def phones(self, n: int) -> list[str]:
        pre = self.rng.integers(0, len(_MOBILE_PREFIXES), n).tolist()
        num = self.rng.integers(0, 10**8, n).tolist()
        out = []
        for p, x in zip(pre, num, strict=True):
            first = f"{_MOBILE_PREFIXES[p]}{x:08d}"
            out.append(first if first not in self._seen else self._unique(lambda: f"1{self.rng.integers(3 * 10**9, 10**10):010d}"))
            self._seen.add(out[-1])
        return out

    def accounts(self, n: int, business: bool) -> list[str]:
        prefix, digits = ("B", 8) if business else ("C", 10)
        out = []
        for x in self.rng.integers(0, 10**digits, n).tolist():
            first = f"{prefix}{x:0{digits}d}"
            out.append(first if first not in self._seen else self._unique(lambda: f"{prefix}{self.rng.integers(0, 10**digits):0{digits}d}"))
            self._seen.add(out[-1])
        return out

    def id_numbers(self, provinces: list[str]) -> list[str]:
        n = len(provinces)
        city = self.rng.integers(1, 20, n).tolist()
        county = self.rng.integers(1, 30, n).tolist()
        born = self.rng.integers(0, 16800, n).tolist()  # 1960 .. 2005
        seq = self.rng.integers(0, 1000, n).tolist()
        epoch = dt.date(1960, 1, 1)
        bodies = [
            f"{PROVINCE_CODES[prov]}{c:02d}{k:02d}{(epoch + dt.timedelta(days=b)):%Y%m%d}{s:03d}"
            for prov, c, k, b, s in zip(provinces, city, county, born, seq, strict=True)
        ]
        return [b + ch for b, ch in zip(bodies, _wrong_check_digits(bodies), strict=True)]


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = "10X98765432"


def _wrong_check_digits(bodies: list[str]) -> list[str]:
    """Shifted GB 11643 check characters: no generated number can be a valid real ID."""
    if not bodies:
        return []
    digits = np.frombuffer("".join(bodies).encode("ascii"), dtype=np.uint8).reshape(len(bodies), 17) - 48
    valid = (digits.astype(np.int64) @ _ID_WEIGHTS) % 11
    return [_ID_CHECK[(v + 1) % 11] for v in valid.tolist()]


# --------------------------------------------------------------------------- entity pools


@dataclass
class _Senders:
    """Columnar store of sender identities: individuals, merchants and ring fronts."""

    ident: list[tuple[str, str, str, str, str | None]] = field(default_factory=list)
    opened_day: list[float] = field(default_factory=list)  # day index relative to start; nan if unknown
    city: list[int] = field(default_factory=list)
    outlet: list[int] = field(default_factory=list)
    favorite: list[int] = field(default_factory=list)
    risk: list[float] = field(default_factory=list)  # latent diffuse risk, 0 for most
    profile: list[int] = field(default_factory=list)  # merchants' main line of goods
    price: list[float] = field(default_factory=list)
    service: list[str] = field(default_factory=list)

    def add(self, ident: tuple[str, str, str, str, str | None], opened_day: float, city: int, outlet: int,
            favorite: int = -1, risk: float = 0.0, profile: int = -1, price: float = 1.0,
            service: str = "standard") -> int:
        self.ident.append(ident)
        self.opened_day.append(opened_day)
        self.city.append(city)
        self.outlet.append(outlet)
        self.favorite.append(favorite)
        self.risk.append(risk)
        self.profile.append(profile)
        self.price.append(price)
        self.service.append(service)
        return len(self.ident) - 1


@dataclass
class _Recipients:
    rows: list[tuple[str, str, str, str, int]] = field(default_factory=list)  # name, phone, address, type, area
    surname: list[str] = field(default_factory=list)

    def add(self, name: str, phone: str, address: str, address_type: str, area: int) -> int:
        self.rows.append((name, phone, address, address_type, area))
        self.surname.append(name.split(" ", 1)[0])
        return len(self.rows) - 1


@dataclass
class _Batch:
    """One day's parcels in columns; every segment appends here, assembly turns rows into dicts."""

    sec: list[int] = field(default_factory=list)
    sender: list[int] = field(default_factory=list)
    recipient: list[int] = field(default_factory=list)
    outlet: list[int] = field(default_factory=list)
    description: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    hs: list[str | None] = field(default_factory=list)
    qty: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    dims: list[tuple[float, float, float]] = field(default_factory=list)
    pieces: list[int] = field(default_factory=list)
    service: list[str] = field(default_factory=list)
    payment: list[str] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    p: list[float] = field(default_factory=list)  # nan: computed at assembly from observables
    pattern: list[str] = field(default_factory=list)
    drugs: list[Weighted] = field(default_factory=list)
    grams: list[tuple[float, float]] = field(default_factory=list)
    merchant: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class _Goods:
    description: list[str]
    category: list[str]
    hs: list[str | None]
    qty: list[int]
    value: list[float]
    weight: list[float]
    dims: list[tuple[float, float, float]]


def _draw_goods(rng: np.random.Generator, profiles: IntArray, merchant: NDArray[np.bool_],
                price: FloatArray) -> _Goods:
    """Contents, value and physical size for a vector of parcels (vectorised per field)."""
    n = len(profiles)
    prof = [PROFILES[i] for i in profiles.tolist()]
    v_med = np.array([p.value[0] for p in prof])
    v_sig = np.array([p.value[1] for p in prof])
    w_med = np.array([p.weight[0] for p in prof])
    w_sig = np.array([p.weight[1] for p in prof])
    d_lo = np.array([p.density[0] for p in prof])
    d_hi = np.array([p.density[1] for p in prof])
    token = np.array([p.token for p in prof])
    hs_rate = np.array([p.hs_rate if p.hs_rate is not None else (0.65 if m else 0.12)
                        for p, m in zip(prof, merchant.tolist(), strict=True)])

    value = v_med * np.exp(v_sig * rng.standard_normal(n)) * price
    # People round what they declare; shops use list prices such as 89.9.
    rounded = np.where(value > 60, np.round(value / 10) * 10, np.round(value))
    listed = np.floor(value) + np.where(rng.random(n) < 0.4, 0.9, 0.0)
    value = np.where(merchant, np.round(listed, 1), np.where(rng.random(n) < 0.75, rounded, np.round(value, 1)))
    is_token = rng.random(n) < np.where(merchant, token * 0.2, token)
    value = np.where(is_token, np.where(rng.random(n) < 0.6, 0.0, 1.0), np.maximum(value, 1.0))

    weight = np.maximum(40.0, w_med * np.exp(w_sig * rng.standard_normal(n)))
    density = d_lo + (d_hi - d_lo) * rng.random(n)
    volume = weight / density
    r_w = rng.uniform(0.45, 0.95, n)
    r_h = rng.uniform(0.15, 0.7, n)
    length = np.cbrt(volume / (r_w * r_h))
    dims = list(zip(length.tolist(), (length * r_w).tolist(), (length * r_h).tolist(), strict=True))

    qty = np.minimum(rng.geometric(0.55, n), [p.max_qty for p in prof]).tolist()
    u_desc = rng.random(n).tolist()
    u_cat = rng.random(n).tolist()
    u_hs = rng.random(n).tolist()
    has_hs = (rng.random(n) < hs_rate).tolist()
    descriptions, categories, codes = [], [], []
    for p, m, ud, uc, uh, h in zip(prof, merchant.tolist(), u_desc, u_cat, u_hs, has_hs, strict=True):
        descriptions.append(p.descriptions[int(ud * len(p.descriptions))])
        categories.append(_category(p, m, uc))
        codes.append(p.hs_codes[int(uh * len(p.hs_codes))] if h and p.hs_codes else None)
    return _Goods(descriptions, categories, codes, qty, value.tolist(), weight.tolist(), dims)


def _category(profile: _Profile, merchant: bool, u: float) -> str:
    if merchant and not profile.key.startswith("ring_"):
        if profile.key == "industrial":
            return "sample" if u < 0.6 else "commercial"
        return "commercial" if u < 0.88 else ("other" if u < 0.95 else "gift")
    acc = 0.0
    for name, w in profile.categories:
        acc += w
        if u < acc:
            return name
    return profile.categories[-1][0]


# --------------------------------------------------------------------------- the world


class _World:
    """All persistent state: places, outlets, entity pools and rings. One instance per run."""

    def __init__(self, config: WorldConfig) -> None:
        self.cfg = config
        self.scale = config.parcels_per_day / BASE_VOLUME
        self.rng = np.random.default_rng(config.seed)
        self.ids = _Ids(self.rng)
        self.senders = _Senders()
        self.recipients = _Recipients()
        self._seen_waybills: set[str] = set()
        self._build_outlets()
        self._build_places()
        self._build_recipients()
        self._build_people()
        self._build_merchants()
        self.rings = [_Ring(spec, self, 0) for spec in RINGS]
        if config.new_pattern_day is not None:
            self.rings.append(_Ring(NEW_RING, self, config.new_pattern_day))

    # ---- construction

    def _build_outlets(self) -> None:
        rng = self.rng
        self.outlets: list[tuple[str, str, str, str, str, str]] = []  # id, carrier, province, city, district, postcode
        lapse: list[float] = []
        self.city_outlets: list[list[int]] = []
        self.city_outlet_cum: list[list[float]] = []
        for city in ORIGINS:
            n = 4 + int(7 * (city.people + city.shops) * max(self.scale, 0.25))
            nums = rng.choice(np.arange(1, 10000), size=n, replace=False).tolist()
            carriers = _pick_names(rng, _CARRIERS, n)
            u = rng.random((n, 4)).tolist()
            first = len(self.outlets)
            for num, carrier, r in zip(nums, carriers, u, strict=True):
                di = int(r[0] * len(city.districts))
                postcode = f"{city.postcode + 11 * (di + 1) + int(r[1] * 9):06d}"
                self.outlets.append((f"{city.code}-{num:04d}", carrier, city.province, city.name, city.districts[di], postcode))
                # Most outlets check IDs; some franchise outlets let it lapse.
                lapse.append(0.003 if r[2] < 0.85 else (0.03 + 0.05 * r[3] if r[2] < 0.97 else 0.12 + 0.18 * r[3]))
            self.city_outlets.append(list(range(first, first + n)))
            self.city_outlet_cum.append(np.cumsum(rng.pareto(1.5, n) + 0.3).tolist())
        self.lapse = np.array(lapse)
        self.outlet_carrier = [o[1] for o in self.outlets]

    def _build_places(self) -> None:
        """Shared Hainan addresses: lockers, pick-up stations and hotels serve many recipients."""
        rng = self.rng
        self.lockers: list[list[str]] = []
        self.pickups: list[list[str]] = []
        self.hotels: list[list[str]] = []
        for area in ALL_AREAS:
            k = max(3, int(60 * area.weight * max(self.scale, 0.25)))
            u = rng.random((k * 5, 6)).tolist()
            spots = [f"{self._community(r)}, {self._road(area, r)}, {area.district}, {area.city}" for r in u]
            codes = rng.choice(np.arange(100, 10000), size=k, replace=False).tolist()
            self.lockers.append([f"Hive Box locker {area.city[:1]}{c}, {s}" for c, s in zip(codes, spots, strict=False)])
            self.pickups.append([f"Cainiao Station {s}" for s in spots[k : k + max(2, k // 2)]])
            hotels = k * (3 if area.city == "Sanya" else 1)
            self.hotels.append([
                f"{_pick1(_HOTEL_A, r[4])} {_pick1(_HOTEL_B, r[5])}, {self._road(area, r)}, {area.district}, {area.city}"
                for r in u[2 * k : 2 * k + hotels]
            ])
        self.area_cum = np.cumsum(np.array([a.weight for a in AREAS]))
        self.other_area_cum = np.cumsum(np.array([a.weight for a in OTHER_AREAS]))
        cities = sorted({a.city for a in AREAS})
        self.city_areas = {c: [i for i, a in enumerate(AREAS) if a.city == c] for c in cities}

    @staticmethod
    def _community(u: list[float]) -> str:
        return f"{_pick1(_COMMUNITY, u[0])} {_pick1(_COMMUNITY_KIND, u[1])}"

    @staticmethod
    def _road(area: _Area, u: list[float]) -> str:
        return f"{_pick1(area.roads, u[2])} No.{1 + int(u[3] * 399)}"

    def _address(self, area_idx: int, kind: str, u: list[float]) -> str:
        area = ALL_AREAS[area_idx]
        if kind == "locker":
            return _pick1(self.lockers[area_idx], u[6])
        if kind == "pickup_point":
            return _pick1(self.pickups[area_idx], u[6])
        if kind == "hotel":
            return _pick1(self.hotels[area_idx], u[6])
        tail = f"{self._road(area, u)}, {area.district}, {area.city}"
        if kind == "business":
            return f"{_pick1(_SHOP_WORDS, u[4])} {_pick1(_BUSINESS_KINDS, u[5])}, {tail}"
        return (f"{self._community(u)} Bldg {1 + int(u[4] * 29)} Unit {1 + int(u[5] * 4)} "
                f"Rm {1 + int(u[6] * 32)}{1 + int(u[7] * 4):02d}, {tail}")

    def new_recipients(self, areas: Sequence[int], kinds: Sequence[str],
                       surnames: Sequence[str | None] | None = None) -> list[int]:
        n = len(areas)
        names = self.ids.names(n, surnames)
        phones = self.ids.phones(n)
        u = self.rng.random((n, 8)).tolist()
        add = self.recipients.add
        return [add(nm, ph, self._address(a, k, r), k, a)
                for nm, ph, a, k, r in zip(names, phones, areas, kinds, u, strict=True)]

    def _build_recipients(self) -> None:
        rng = self.rng
        n = int(30000 * self.scale) + 300
        kinds = _pick_names(rng, (("home", .6), ("locker", .18), ("pickup_point", .12), ("business", .10)), n)
        self.new_recipients(_pick(rng, self.area_cum, n).tolist(), kinds)
        weights = rng.lognormal(0.0, 1.0, n) * np.array([6.0 if k == "business" else 1.0 for k in kinds])
        self.resident_cum = np.cumsum(weights)
        self.shops_in_hainan = [i for i, k in enumerate(kinds) if k == "business"]
        m = int(1500 * self.scale) + 50
        other = (len(AREAS) + _pick(rng, self.other_area_cum, m)).tolist()
        self.new_recipients(other, _pick_names(rng, (("home", .6), ("business", .25), ("pickup_point", .15)), m))
        self.other_range = (n, n + m)

    def outlet_in(self, city_idx: int, u: float) -> int:
        """An outlet of the city, busy outlets more likely."""
        cum = self.city_outlet_cum[city_idx]
        k = min(bisect.bisect_right(cum, u * cum[-1]), len(cum) - 1)
        return self.city_outlets[city_idx][k]

    def _dates(self, days: Sequence[float], none_rate: float) -> list[str | None]:
        # Legacy accounts migrated without an opening date.
        missing = (self.rng.random(len(days)) < none_rate).tolist()
        start = self.cfg.start
        return [None if m else (start + dt.timedelta(days=int(d))).isoformat() for d, m in zip(days, missing, strict=True)]

    def new_people(self, cities: Sequence[int], opened: Sequence[float]) -> list[int]:
        """Individuals with a home outlet, a favourite recipient (often family) and maybe diffuse risk."""
        rng = self.rng
        n = len(cities)
        favorite = _pick(rng, self.resident_cum, n).tolist()
        u = rng.random((n, 4)).tolist()
        risk = np.exp(rng.uniform(np.log(DIFFUSE_RISK[0]), np.log(DIFFUSE_RISK[1]), n)).tolist()
        risky = [r if x[0] < ORIGINS[c].diffuse else 0.0 for r, x, c in zip(risk, u, cities, strict=True)]
        # Some ship to a contact collecting at a shared, anonymous address.
        moved = [i for i in range(n) if risky[i] > 0 and u[i][1] < 0.3]
        drops = self.new_recipients(_pick(rng, self.area_cum, len(moved)).tolist(),
                                    _pick_names(rng, (("locker", .6), ("pickup_point", .4)), len(moved)))
        for i, rec in zip(moved, drops, strict=True):
            favorite[i] = rec
        sur = self.recipients.surname
        family = [sur[f] if x[2] < 0.45 and r == 0.0 else None for f, x, r in zip(favorite, u, risky, strict=True)]
        names = self.ids.names(n, family)
        phones = self.ids.phones(n)
        ids = self.ids.id_numbers([ORIGINS[c].province for c in cities])
        accounts = self.ids.accounts(n, business=False)
        dates = self._dates(opened, 0.03)
        add = self.senders.add
        return [
            add((nm, ph, idn, acc, date), op, c, self.outlet_in(c, x[3]), favorite=f, risk=r)
            for nm, ph, idn, acc, date, op, c, x, f, r
            in zip(names, phones, ids, accounts, dates, opened, cities, u, favorite, risky, strict=True)
        ]

    def _build_people(self) -> None:
        rng = self.rng
        n = int(45000 * self.scale) + 500
        self.people_city_cum = np.cumsum([c.people for c in ORIGINS])
        ages = np.minimum(3000.0, 10 + rng.exponential(700, n))
        self.people = self.new_people(_pick(rng, self.people_city_cum, n).tolist(), (-ages).tolist())
        self.people_w = (rng.pareto(1.3, n) + 1.0).clip(max=150.0).tolist()

    def _build_merchants(self) -> None:
        self.merchants: list[int] = []
        self.merchant_w: list[float] = []
        self.shop_city_cum = np.cumsum([c.shops for c in ORIGINS])
        n = int(900 * self.scale) + 30
        self.new_merchants(self.rng.uniform(-2500, -30, n).tolist())

    def new_merchants(self, opened: Sequence[float]) -> None:
        rng = self.rng
        n = len(opened)
        cities = _pick(rng, self.shop_city_cum, n).tolist()
        u = rng.random((n, 6)).tolist()
        shop_mix = _pick_names(rng, _SHOP_MIX, n)
        names = self.ids.names(n)
        phones = self.ids.phones(n)
        ids = self.ids.id_numbers([ORIGINS[c].province for c in cities])
        accounts = self.ids.accounts(n, business=True)
        dates = self._dates(opened, 0.02)
        services = _pick_names(rng, (("standard", .55), ("economy", .3), ("express", .15)), n)
        price = rng.lognormal(0, 0.4, n).tolist()
        activity = rng.lognormal(0.0, 1.7, n).tolist()
        for i, c in enumerate(cities):
            city = ORIGINS[c]
            line = _pick1(city.goods, u[i][1]) if u[i][0] < 0.7 else shop_mix[i]
            name = names[i]
            if u[i][2] < 0.4:  # waybills often carry the shop's name instead of a person's
                name = f"{city.name} {_pick1(_SHOP_WORDS, u[i][3])} {_pick1(_SHOP_SUFFIX, u[i][4])}"
            idx = self.senders.add((name, phones[i], ids[i], accounts[i], dates[i]), opened[i], c,
                                   self.outlet_in(c, u[i][5]), profile=_PROFILE_INDEX[line],
                                   price=price[i], service=services[i])
            self.merchants.append(idx)
            self.merchant_w.append(activity[i])

    # ---- one day

    def day(self, d: int) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        # A day is thousands of acyclic dicts; pausing the cyclic GC while building them avoids
        # repeated scans of the large entity pools (about a third of the run time otherwise).
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._day(d)
        finally:
            if enabled:
                gc.enable()

    def _day(self, d: int) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        rng = self.rng
        date = self.cfg.start + dt.timedelta(days=d)
        shifted = self.cfg.shift_day is not None and d >= self.cfg.shift_day
        total = int(rng.poisson(self.cfg.parcels_per_day * _WEEKDAY[date.weekday()] / np.mean(_WEEKDAY)))
        n_shop = int(rng.binomial(total, SHOP_SHARE))
        n_return = int(rng.binomial(total - n_shop, 0.06))
        n_person = total - n_shop - n_return
        if shifted:  # promo: merchants ship 60% more, at lower prices; contraband is untouched
            n_shop = int(n_shop * 1.6)
        self.new_merchants((d - rng.integers(0, 20, int(rng.poisson(3 * self.scale)))).tolist())
        batch = _Batch()
        self._shops(batch, n_shop, shifted)
        self._persons(batch, d, n_person)
        self._returns(batch, n_return)
        for ring in self.rings:
            if d >= ring.start_day:
                ring.emit(batch, d, date.weekday())
        return self._assemble(batch, d, date, shifted)

    def _times(self, n: int, hours: Sequence[float]) -> list[int]:
        h = _pick(self.rng, _hour_cum(hours), n)
        return (h * 3600 + self.rng.integers(0, 3600, n)).tolist()

    def _recipients_for(self, n: int, favorite: list[int] | None, p_fav: float, p_tourist: float,
                        p_other: float) -> list[int]:
        rng = self.rng
        out = _pick(rng, self.resident_cum, n).tolist()
        u = rng.random(n)
        lo, hi = self.other_range
        other = np.flatnonzero(u < p_other)
        for i, r in zip(other.tolist(), rng.integers(lo, hi, len(other)).tolist(), strict=True):
            out[i] = r
        # Tourists: fresh phones at hotels, mostly in Sanya. Benign twins of hotel drops.
        tourist = np.flatnonzero((u >= p_other) & (u < p_other + p_tourist)).tolist()
        sanya = self.city_areas["Sanya"]
        areas = np.where(rng.random(len(tourist)) < 0.7, rng.choice(sanya, len(tourist)),
                         _pick(rng, self.area_cum, len(tourist))).tolist()
        for i, r in zip(tourist, self.new_recipients(areas, ["hotel"] * len(tourist)), strict=True):
            out[i] = r
        if favorite is not None:
            for i in np.flatnonzero(u >= 1 - p_fav).tolist():
                out[i] = favorite[i]
        return out

    def add_goods(self, batch: _Batch, goods: _Goods) -> None:
        batch.description += goods.description
        batch.category += goods.category
        batch.hs += goods.hs
        batch.qty += goods.qty
        batch.value += goods.value
        batch.weight += goods.weight
        batch.dims += goods.dims

    def _verified(self, outlets: list[int]) -> list[bool]:
        return (self.rng.random(len(outlets)) >= self.lapse[outlets]).tolist()

    def _shops(self, batch: _Batch, n: int, promo: bool) -> None:
        rng = self.rng
        pick = _pick(rng, np.cumsum(self.merchant_w), n)
        senders = [self.merchants[i] for i in pick.tolist()]
        s = self.senders
        profiles = np.array([s.profile[i] for i in senders], dtype=np.int64)
        # A shop sometimes ships something off its main line.
        other = rng.random(n) < 0.15
        profiles[other] = [_PROFILE_INDEX[k] for k in _pick_names(rng, _SHOP_MIX, int(other.sum()))]
        price = np.array([s.price[i] for i in senders])
        if promo:
            price *= np.where(rng.random(n) < 0.6, 0.6, 1.0)
        goods = _draw_goods(rng, profiles, np.ones(n, dtype=bool), price)
        outlets = [s.outlet[i] for i in senders]
        batch.sec += self._times(n, _HOUR_SHOP)
        batch.sender += senders
        batch.recipient += self._recipients_for(n, None, 0.0, 0.03, 0.05)
        batch.outlet += outlets
        self.add_goods(batch, goods)
        batch.pieces += np.where(rng.random(n) < 0.9, 1, rng.integers(2, 4, n)).tolist()
        batch.service += [s.service[i] for i in senders]
        batch.payment += _pick_names(rng, (("business_account", .85), ("prepaid", .08), ("cod", .07)), n)
        batch.verified += self._verified(outlets)
        self._benign_truth(batch, n, merchant=True)

    @staticmethod
    def _benign_truth(batch: _Batch, n: int, merchant: bool) -> None:
        batch.p += [float("nan")] * n
        batch.pattern += ["benign"] * n
        batch.drugs += [_BACKGROUND_DRUGS] * n
        batch.grams += [(5.0, 200.0)] * n
        batch.merchant += [merchant] * n

    def _persons(self, batch: _Batch, d: int, n: int) -> None:
        rng = self.rng
        # Newcomers: accounts opened today or in the last days, far more numerous than ring fronts.
        n_new = int(rng.binomial(n, NEWCOMER_SHARE))
        age = np.where(rng.random(n_new) < 0.6, 0, np.where(rng.random(n_new) < 0.6, rng.integers(1, 4, n_new),
                                                            rng.integers(4, 30, n_new)))
        new = self.new_people(_pick(rng, self.people_city_cum, n_new).tolist(), (d - age).tolist())
        senders = [self.people[i] for i in _pick(rng, np.cumsum(self.people_w), n - n_new).tolist()] + new
        self.people += new
        self.people_w += (rng.pareto(1.3, n_new) + 1.0).clip(max=150.0).tolist()
        s = self.senders
        risky = [s.risk[i] > 0 for i in senders]
        base = _pick_names(rng, _PERSON_MIX, n)
        vague = _pick_names(rng, _DIFFUSE_MIX, n)
        u = rng.random((n, 3)).tolist()
        keys = []
        for snd, dl, b, v, r in zip(senders, risky, base, vague, u, strict=True):
            if dl and r[0] < 0.3:
                keys.append(v)
            elif r[0] < 0.3:
                keys.append(_pick1(ORIGINS[s.city[snd]].goods, r[1]))
            else:
                keys.append(b)
        profiles = np.array([_PROFILE_INDEX[k] for k in keys], dtype=np.int64)
        goods = _draw_goods(rng, profiles, np.zeros(n, dtype=bool), np.ones(n))
        # Individuals mostly use their usual outlet.
        outlets = [self.outlet_in(s.city[snd], r[2] * 4) if r[2] < 0.25 else s.outlet[snd]
                   for snd, r in zip(senders, u, strict=True)]
        batch.sec += self._times(n, _HOUR_PERSON)
        batch.sender += senders
        batch.recipient += self._recipients_for(n, [s.favorite[i] for i in senders], 0.65, 0.05, 0.05)
        batch.outlet += outlets
        self.add_goods(batch, goods)
        batch.pieces += np.where(rng.random(n) < 0.97, 1, 2).tolist()
        batch.service += _pick_names(rng, (("standard", .55), ("express", .35), ("economy", .1)), n)
        batch.payment += _pick_names(rng, (("prepaid", .66), ("cash", .24), ("cod", .1)), n)
        batch.verified += self._verified(outlets)
        self._benign_truth(batch, n, merchant=False)
        first = len(batch.pattern) - n
        for i in (i for i, dl in enumerate(risky) if dl):
            batch.pattern[first + i] = "diffuse"
            batch.drugs[first + i] = _DIFFUSE_DRUGS
            batch.grams[first + i] = (2.0, 60.0)

    def _returns(self, batch: _Batch, n: int) -> None:
        """Goods sent back to Hainan shops by mainland customers."""
        rng = self.rng
        senders = [self.people[i] for i in _pick(rng, np.cumsum(self.people_w), n).tolist()]
        s = self.senders
        profiles = np.array([_PROFILE_INDEX[k] for k in _pick_names(rng, _SHOP_MIX, n)], dtype=np.int64)
        goods = _draw_goods(rng, profiles, np.zeros(n, dtype=bool), np.ones(n))
        goods.category[:] = ["returned"] * n
        outlets = [s.outlet[i] for i in senders]
        batch.sec += self._times(n, _HOUR_PERSON)
        batch.sender += senders
        batch.recipient += [self.shops_in_hainan[i] for i in rng.integers(0, len(self.shops_in_hainan), n).tolist()]
        batch.outlet += outlets
        self.add_goods(batch, goods)
        batch.pieces += [1] * n
        batch.service += _pick_names(rng, (("standard", .7), ("economy", .2), ("express", .1)), n)
        batch.payment += _pick_names(rng, (("prepaid", .5), ("cod", .3), ("cash", .2)), n)
        batch.verified += self._verified(outlets)
        self._benign_truth(batch, n, merchant=False)

    # ---- truth and assembly

    def _true_p(self, batch: _Batch, d: int, province: list[str], address_type: list[str]) -> FloatArray:
        """Benign and diffuse probability: a latent level nudged by a few observables."""
        p = np.array(batch.p)
        s = self.senders
        opened = np.array([s.opened_day[i] for i in batch.sender])
        young = np.nan_to_num(d - opened, nan=999.0) <= 7
        token = np.array(batch.value) <= 1.0
        shared = np.isin(np.array(address_type), ["locker", "pickup_point", "hotel"])
        cash = np.array(batch.payment) == "cash"
        unverified = ~np.array(batch.verified)
        tilt = (1 + 0.6 * young) * (1 + 0.4 * token) * (1 + 0.3 * shared) * (1 + 0.3 * cash) * (1 + 1.0 * unverified)
        source = np.isin(np.array(province), list(SOURCE_PROVINCES))
        base = np.where(source, 1.3e-4, 3e-5) * np.where(np.array(batch.merchant), 0.4, 1.0)
        benign = np.minimum(base * tilt, 6e-4)
        diffuse = np.array([s.risk[i] for i in batch.sender]) * tilt / 1.6
        latent = np.where(np.array(batch.pattern) == "diffuse", diffuse, benign)
        return np.where(np.isnan(p), latent, p)

    def _assemble(self, batch: _Batch, d: int, date: dt.date, shifted: bool
                  ) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        rng = self.rng
        n = len(batch.sec)
        carriers = [self.outlet_carrier[o] for o in batch.outlet]
        weight, dims = self._reported_size(batch, carriers, shifted)
        origins = [self.outlets[o] for o in batch.outlet]
        dests = [self.recipients.rows[r] for r in batch.recipient]
        p = self._true_p(batch, d, [o[2] for o in origins], [r[3] for r in dests])
        label = (rng.random(n) < p).tolist()
        postcode_null = (rng.random(n) < 0.08).tolist()
        # Second X-ray some minutes to hours after acceptance (log-uniform 20 min .. 30 h).
        screened = (np.array(batch.sec) + np.exp(rng.uniform(np.log(1200), np.log(30 * 3600), n))).astype(np.int64)
        screened_day = [(date + dt.timedelta(days=k)).isoformat() for k in range(3)]
        screened_at = [f"{screened_day[x // 86400]}T{_TIMES[x % 86400]}+08:00" for x in screened.tolist()]
        u_drug = rng.random(n).tolist()
        u_gram = rng.random(n).tolist()
        waybills = self._waybills(carriers)
        day_iso = date.isoformat()
        s = self.senders
        out: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
        for i in sorted(range(n), key=batch.sec.__getitem__):
            o = origins[i]
            r = dests[i]
            area = ALL_AREAS[r[4]]
            name, phone, idn, account, opened = s.ident[batch.sender[i]]
            sec = batch.sec[i]
            manifest = {
                "schema_version": SCHEMA_VERSION,
                "parcel_id": waybills[i],
                "carrier": carriers[i],
                "hub_id": area.hub,
                "accepted_at": f"{day_iso}T{_TIMES[sec]}+08:00",
                "origin": {"province": o[2], "city": o[3], "district": o[4],
                           "postcode": None if postcode_null[i] else o[5], "outlet_id": o[0]},
                "destination": {"province": area.province, "city": area.city, "district": area.district,
                                "address": r[2], "address_type": r[3]},
                "sender": {"name": name, "phone": phone, "id_number": idn, "account_id": account,
                           "account_opened": opened, "id_verified": batch.verified[i]},
                "recipient": {"name": r[0], "phone": r[1], "address": r[2]},
                "contents": _contents(batch, i),
                "weight_g": weight[i],
                "length_cm": dims[i][0], "width_cm": dims[i][1], "height_cm": dims[i][2],
                "pieces": batch.pieces[i],
                "service": batch.service[i],
                "payment": batch.payment[i],
            }
            truth = {"parcel_id": waybills[i], "label": label[i], "p": float(p[i]), "pattern": batch.pattern[i], "day": d}
            ctype: str | None = None
            grams: float | None = None
            if label[i]:
                ctype = _weighted_one(batch.drugs[i], u_drug[i])
                lo, hi = batch.grams[i]
                grams = round(float(lo * (hi / lo) ** u_gram[i]), 1)
            outcome = {
                "parcel_id": waybills[i],
                "screened_at": screened_at[i],
                "result": "contraband" if label[i] else "clear",
                "contraband_type": ctype,
                "quantity_g": grams,
                "source": "xray",
            }
            out.append((manifest, truth, outcome))
        return out

    def _reported_size(self, batch: _Batch, carriers: list[str], shifted: bool
                       ) -> tuple[list[int], list[tuple[int, int, int]]]:
        """What carriers report: SF/EMS weigh to 10 g; after the shift ZTO rounds up to 100 g and 5 cm."""
        w = np.array(batch.weight)
        d = np.array(batch.dims).reshape(-1, 3)
        car = np.array(carriers)
        coarse = np.isin(car, ["SF", "EMS"])
        w = np.where(coarse, np.round(w / 10) * 10, np.round(w))
        dims = np.maximum(1, np.round(d))
        if shifted:
            zto = car == "ZTO"
            w = np.where(zto, np.ceil(w / 100) * 100, w)
            dims = np.where(zto[:, None], np.maximum(5, np.ceil(d / 5) * 5), dims)
        w_list: list[int] = w.astype(np.int64).tolist()
        dim_list = [(int(a), int(b), int(c)) for a, b, c in dims.astype(np.int64).tolist()]
        return w_list, dim_list

    def _waybills(self, carriers: list[str]) -> list[str]:
        nums = self.rng.integers(0, 10**12, len(carriers)).tolist()
        out = []
        for carrier, x in zip(carriers, nums, strict=True):
            prefix, digits = _WAYBILL[carrier]
            wb = f"{prefix}{x % 10**digits:0{digits}d}"
            while wb in self._seen_waybills:
                wb = f"{prefix}{int(self.rng.integers(0, 10**digits)):0{digits}d}"
            self._seen_waybills.add(wb)
            out.append(wb)
        return out


def _contents(batch: _Batch, i: int) -> dict[str, Any]:
    contents: dict[str, Any] = {"description": batch.description[i], "category": batch.category[i]}
    if batch.hs[i] is not None:  # absent, not null, as most carriers omit it
        contents["hs_code"] = batch.hs[i]
    contents["quantity"] = batch.qty[i]
    contents["declared_value"] = batch.value[i]
    contents["currency"] = "CNY"
    return contents


def _weighted_one(items: Weighted, u: float) -> str:
    total = sum(w for _, w in items)
    acc = 0.0
    for name, w in items:
        acc += w / total
        if u < acc:
            return name
    return items[-1][0]


# --------------------------------------------------------------------------- ring behaviour


class _Ring:
    """A ring's running state: burnt and fresh identities, active drops, complicit outlets."""

    def __init__(self, spec: RingSpec, world: _World, start_day: int) -> None:
        self.spec = spec
        self.world = world
        self.start_day = start_day
        self.origin_names, self.origin_cum = _table(spec.origins)
        self.dest_names, self.dest_cum = _table(spec.dest_cities)
        # Complicit outlets are real, busy outlets in the ring's main cities, so outlet volume is no tell.
        u = world.rng.random(2).tolist()
        self.complicit = [world.outlet_in(_CITY_INDEX[c], x) for c, x in zip(self.origin_names[:2], u, strict=False)]
        self.fronts: list[list[int]] = []  # [sender index, parcels left]
        self.drops: list[list[int]] = []  # [recipient index, parcels left, parcels so far]

    def _new_front(self, d: int) -> None:
        world = self.world
        rng = world.rng
        spec = self.spec
        ci = _CITY_INDEX[self.origin_names[int(_pick(rng, self.origin_cum, 1)[0])]]
        opened = d - int(rng.integers(spec.account_age[0], spec.account_age[1] + 1))
        # Identities are bought or stolen anywhere, so the ID's province often differs from the origin.
        prov = ORIGINS[ci].province if rng.random() < 0.6 else _pick1(tuple(PROVINCE_CODES), rng.random())
        ids = world.ids
        ident = (ids.names(1)[0], ids.phones(1)[0], ids.id_numbers([prov])[0],
                 ids.accounts(1, business=spec.business)[0], world._dates([opened], 0.02)[0])
        idx = world.senders.add(ident, opened, ci, world.outlet_in(ci, rng.random()))
        self.fronts.append([idx, int(rng.integers(spec.uses[0], spec.uses[1] + 1))])

    def _front(self, d: int) -> int:
        """A sender identity, burnt after a few parcels; usually two are in use at once."""
        rng = self.world.rng
        while len(self.fronts) < 2 or rng.random() < 0.1:
            self._new_front(d)
        k = int(rng.integers(len(self.fronts)))
        front = self.fronts[k]
        front[1] -= 1
        if front[1] <= 0:
            self.fronts.pop(k)
        return front[0]

    def _new_drop_recipient(self) -> int:
        world = self.world
        rng = world.rng
        if rng.random() < self.spec.mules:  # a real resident lends their name, phone and history
            return int(_pick(rng, world.resident_cum, 1)[0])
        areas = world.city_areas[self.dest_names[int(_pick(rng, self.dest_cum, 1)[0])]]
        area = areas[int(rng.integers(len(areas)))]
        return world.new_recipients([area], _pick_names(rng, self.spec.address_types, 1))[0]

    def _drop(self) -> tuple[int, bool]:
        """Returns (recipient, first parcel to it): a new drop's first parcel is often a dry run."""
        rng = self.world.rng
        spec = self.spec
        if len(self.drops) < spec.drops:
            uses = int(rng.integers(spec.drop_uses[0], spec.drop_uses[1] + 1))
            self.drops.append([self._new_drop_recipient(), uses, 0])
            k = len(self.drops) - 1
        else:
            k = int(rng.integers(len(self.drops)))
        drop = self.drops[k]
        drop[1] -= 1
        drop[2] += 1
        if drop[1] <= 0:
            self.drops.pop(k)
        return drop[0], drop[2] == 1

    def _plan(self, d: int, lam: float) -> tuple[list[tuple[int, int, bool]], list[int]]:
        """Who sends to whom today, and when: (sender, recipient, dry run) rows and seconds."""
        rng = self.world.rng
        spec = self.spec
        plan: list[tuple[int, int, bool]] = []
        secs: list[int] = []
        lo, hi = spec.hours[0] * 3600, spec.hours[1] * 3600
        if spec.burst[1] == 1:
            for _ in range(int(rng.poisson(lam))):
                rec, first = self._drop()
                plan.append((self._front(d), rec, first))
            return plan, rng.integers(lo, hi, len(plan)).tolist()
        # Bursts: one fresh recipient gets several parcels handed in within a few hours.
        for _ in range(int(rng.poisson(lam / (sum(spec.burst) / 2)))):
            rec = self._new_drop_recipient()
            front = self._front(d)
            start = int(rng.integers(lo, hi))
            for j in range(int(rng.integers(spec.burst[0], spec.burst[1] + 1))):
                if j and rng.random() < 0.3:
                    front = self._front(d)
                plan.append((front, rec, j == 0 and rng.random() < 0.5))
                secs.append(min(86399, start + int(rng.integers(0, 4 * 3600))))
        return plan, secs

    def emit(self, batch: _Batch, d: int, weekday: int) -> None:
        world = self.world
        rng = world.rng
        spec = self.spec
        plan, secs = self._plan(d, spec.rate * world.scale * _WEEKDAY[weekday])
        n = len(plan)
        if n == 0:
            return
        s = world.senders
        goods = _draw_goods(rng, np.full(n, _PROFILE_INDEX[spec.disguise], dtype=np.int64),
                            np.zeros(n, dtype=bool), np.ones(n))
        u = rng.random((n, 3)).tolist()
        outlets = [
            self.complicit[int(r[1] * len(self.complicit))] if r[0] < spec.complicit else world.outlet_in(s.city[snd], r[2])
            for (snd, _, _), r in zip(plan, u, strict=True)
        ]
        lapse = np.maximum(world.lapse[outlets], spec.unverified)
        dry = np.array([dry for _, _, dry in plan])
        p = rng.uniform(spec.p[0], spec.p[1], n) * np.where(dry, 0.5, 1.0)
        batch.sec += secs
        batch.sender += [snd for snd, _, _ in plan]
        batch.recipient += [rec for _, rec, _ in plan]
        batch.outlet += outlets
        world.add_goods(batch, goods)
        batch.pieces += [1] * n
        batch.service += _pick_names(rng, spec.service, n)
        batch.payment += _pick_names(rng, spec.payment, n)
        batch.verified += (rng.random(n) >= lapse).tolist()
        batch.p += p.tolist()
        batch.pattern += [spec.pattern] * n
        batch.drugs += [spec.drugs] * n
        batch.grams += [spec.grams] * n
        batch.merchant += [False] * n


def _parcels(config: WorldConfig) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    world = _World(config)
    for day in range(config.days):
        yield from world.day(day)
