"""The synthetic world's fixed catalogue: places, names, sender profiles, trafficking rings and the rates
that shape the daily flow. ``generate`` draws parcels from these; change a rate or a ring here.

Over 400 lines of data rather than logic: the catalogue reads best in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Weighted = tuple[tuple[str, float], ...]
Parcel = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]  # manifest, truth, outcome

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
# Where drugs come from in this world. Independent of the config's priority list, which only
# decides which parcels get a screened outcome.
SOURCE_PROVINCES = frozenset({"Yunnan", "Guangdong", "Guangxi", "Sichuan", "Guizhou"})


# --------------------------------------------------------------------------- places


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
    diffuse: float = 0.0  # share of local individuals carrying latent low-level risk


ORIGINS: tuple[_City, ...] = (
    _City("Yunnan", "Kunming", "KM", 650000, ("Guandu", "Wuhua", "Panlong", "Xishan", "Chenggong"),
          3.4, 2.2, ("tea", "puer", "specialty", "health"), 0.58),
    _City("Yunnan", "Jinghong", "JH", 666100, ("Jinghong", "Menghai", "Mengla"),
          0.8, 1.0, ("puer", "tea", "specialty"), 0.75),
    _City("Yunnan", "Lincang", "LC", 677000, ("Linxiang", "Gengma", "Zhenkang"), 0.5, 0.6, ("puer", "tea"), 0.75),
    _City("Yunnan", "Ruili", "RL", 678600, ("Ruili", "Jiegao", "Mangshi"), 0.45, 0.4, ("jade", "specialty"), 0.75),
    _City("Yunnan", "Pu'er", "PE", 665000, ("Simao", "Ning'er"), 0.5, 1.2, ("puer", "tea"), 0.72),
    _City("Yunnan", "Dali", "DL", 671000, ("Dali", "Xiaguan"), 0.5, 0.5, ("specialty", "tea"), 0.46),
    _City("Yunnan", "Baoshan", "BS", 678000, ("Longyang", "Tengchong"), 0.35, 0.25, ("specialty", "jade"), 0.72),
    _City("Guangdong", "Guangzhou", "GZ", 510000, ("Tianhe", "Baiyun", "Haizhu", "Panyu", "Yuexiu", "Liwan"),
          4.2, 6.5, ("clothes", "cosmetics", "food", "household"), 0.42),
    _City("Guangdong", "Shenzhen", "SZ", 518000, ("Futian", "Nanshan", "Longgang", "Bao'an", "Longhua"),
          3.6, 5.5, ("electronics", "cosmetics", "clothes"), 0.30),
    _City("Guangdong", "Zhanjiang", "ZJ", 524000, ("Chikan", "Xiashan", "Mazhang", "Leizhou", "Xuwen"),
          2.4, 0.7, ("food", "beverage"), 0.75),
    _City("Guangdong", "Dongguan", "DG", 523000, ("Nancheng", "Dongcheng", "Humen", "Chang'an"),
          1.6, 3.2, ("electronics", "clothes", "industrial", "toys"), 0.42),
    _City("Guangdong", "Foshan", "FS", 528000, ("Chancheng", "Nanhai", "Shunde"),
          1.1, 2.2, ("household", "kitchenware", "parts"), 0.30),
    _City("Guangdong", "Shantou", "ST", 515000, ("Longhu", "Jinping", "Chaoyang"), 0.8, 1.6, ("toys", "food"), 0.36),
    _City("Guangdong", "Maoming", "MM", 525000, ("Maonan", "Dianbai"), 0.9, 0.3, ("food",), 0.58),
    _City("Guangxi", "Nanning", "NN", 530000, ("Qingxiu", "Xixiangtang", "Jiangnan", "Xingning"),
          2.2, 1.1, ("food", "specialty"), 0.52),
    _City("Guangxi", "Liuzhou", "LZ", 545000, ("Chengzhong", "Yufeng"), 0.7, 0.5, ("food",), 0.36),
    _City("Guangxi", "Guilin", "GL", 541000, ("Xiufeng", "Qixing"), 0.6, 0.4, ("food", "tea"), 0.30),
    _City("Guangxi", "Beihai", "BH", 536000, ("Haicheng", "Yinhai"), 0.7, 0.3, ("food",), 0.52),
    _City("Guangxi", "Yulin", "YL", 537000, ("Yuzhou", "Fumian"), 0.6, 0.4, ("health",), 0.42),
    _City("Sichuan", "Chengdu", "CD", 610000, ("Jinjiang", "Wuhou", "Chenghua", "Jinniu", "Qingyang", "Shuangliu"),
          3.2, 2.6, ("food", "electronics", "clothes"), 0.36),
    _City("Sichuan", "Mianyang", "MY", 621000, ("Fucheng", "Youxian"), 0.6, 0.4, ("electronics",), 0.30),
    _City("Sichuan", "Xichang", "XC", 615000, ("Xichang",), 0.35, 0.1, ("specialty",), 0.72),
    _City("Sichuan", "Yibin", "YB", 644000, ("Cuiping", "Xuzhou"), 0.5, 0.35, ("beverage",), 0.30),
    _City("Guizhou", "Guiyang", "GY", 550000, ("Nanming", "Yunyan", "Guanshanhu", "Huaxi"),
          1.6, 0.8, ("food", "beverage"), 0.42),
    _City("Guizhou", "Zunyi", "ZY", 563000, ("Honghuagang", "Huichuan", "Renhuai"), 0.6, 0.4, ("beverage",), 0.30),
    _City("Zhejiang", "Hangzhou", "HZ", 310000, ("Xihu", "Shangcheng", "Gongshu", "Binjiang", "Yuhang"),
          1.4, 5.0, ("clothes", "cosmetics", "tea", "electronics")),
    _City("Zhejiang", "Yiwu", "YW", 322000, ("Choucheng", "Futian", "Jiangdong"),
          0.4, 4.5, ("household", "toys", "gift")),
    _City("Zhejiang", "Ningbo", "NB", 315000, ("Yinzhou", "Haishu"), 0.6, 1.4, ("household", "kitchenware")),
    _City("Zhejiang", "Wenzhou", "WZ", 325000, ("Lucheng", "Ouhai"), 0.75, 1.4, ("clothes", "parts")),
    _City("Jiangsu", "Suzhou", "SU", 215000, ("Gusu", "Wuzhong", "Industrial Park"),
          1.0, 2.4, ("clothes", "electronics")),
    _City("Jiangsu", "Nanjing", "NJ", 210000, ("Xuanwu", "Gulou", "Jianye"), 0.75, 0.8, ("books", "food")),
    _City("Shanghai", "Shanghai", "SH", 200000, ("Pudong", "Minhang", "Jiading", "Xuhui", "Baoshan"),
          1.9, 3.0, ("cosmetics", "electronics", "clothes", "industrial")),
    _City("Beijing", "Beijing", "BJ", 100000, ("Chaoyang", "Haidian", "Dongcheng", "Fengtai"),
          1.5, 1.4, ("documents", "books")),
    _City("Fujian", "Xiamen", "XM", 361000, ("Siming", "Huli"), 0.6, 1.0, ("tea", "food")),
    _City("Fujian", "Quanzhou", "QZ", 362000, ("Fengze", "Jinjiang"), 0.75, 1.8, ("clothes",)),
    _City("Fujian", "Fuzhou", "FZ", 350000, ("Gulou", "Cangshan"), 0.6, 0.7, ("tea",)),
    _City("Hubei", "Wuhan", "WH", 430000, ("Wuchang", "Hongshan", "Jianghan"), 1.6, 1.0, ("food", "clothes")),
    _City("Hunan", "Changsha", "CS", 410000, ("Yuelu", "Furong", "Tianxin"), 1.4, 0.8, ("food",)),
    _City("Henan", "Zhengzhou", "ZZ", 450000, ("Jinshui", "Zhongyuan"), 1.1, 0.8, ("food", "clothes")),
    _City("Shandong", "Linyi", "LY", 276000, ("Lanshan", "Hedong"), 0.5, 1.4, ("household", "parts")),
    _City("Shandong", "Jinan", "JN", 250000, ("Lixia", "Shizhong"), 0.6, 0.5, ("health",)),
    _City("Heilongjiang", "Harbin", "HRB", 150000, ("Nangang", "Daoli", "Xiangfang"), 1.1, 0.3, ("food", "health")),
)
_CITY_INDEX = {c.name: i for i, c in enumerate(ORIGINS)}

PROVINCE_CODES = {
    "Yunnan": "53", "Guangdong": "44", "Guangxi": "45", "Sichuan": "51", "Guizhou": "52", "Zhejiang": "33",
    "Jiangsu": "32", "Shanghai": "31", "Beijing": "11", "Fujian": "35", "Hubei": "42", "Hunan": "43",
    "Henan": "41", "Shandong": "37", "Heilongjiang": "23", "Hainan": "46",
}


@dataclass(frozen=True)
class _Area:
    province: str
    city: str
    district: str
    hub: str
    weight: float
    roads: tuple[str, ...]


_HAIKOU_ROADS = ("Guoxing Ave", "Haixiu Rd", "Longkun S Rd", "Binhai Ave", "Nanhai Ave", "Haidian 3rd Rd",
                 "Renmin Ave", "Fengxiang Rd", "Qiongshan Ave", "Lantian Rd", "Jinpan Rd", "Datong Rd", "Hairui Rd")
_SANYA_ROADS = ("Jiefang Rd", "Yuya Rd", "Sanya Bay Rd", "Haitang N Rd", "Yingbin Rd", "Fenghuang Rd", "Luling Rd",
                "Xinfeng St", "Hedong Rd")
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
# Transit parcels for other provinces pass the Xiuying port hub; they are out of the scorer's scope.
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
    "Su", "Lu", "Ding", "Ren", "Shen", "Yao", "Fu", "Fan", "Fang", "Mo", "Qin", "Lai", "Wen", "Ou", "Kong",
)
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
_SHOP_WORDS = ("Jiale", "Hengda", "Xinyu", "Huamei", "Yunxiang", "Tianli", "Baisheng", "Jinfeng", "Longteng",
               "Mingrui", "Haoyun", "Ruixin", "Yihe", "Fuxing")
_SHOP_SUFFIX = ("Trading", "Store", "Flagship Store", "E-commerce", "Co., Ltd.", "Shop")
_BUSINESS_KINDS = ("Trading", "Restaurant", "Bar", "Supermarket", "Pharmacy", "Studio", "Hardware", "Salon")
_COMMUNITY = ("Jiahe", "Binhai", "Yelin", "Coconut", "Haiyue", "Lvzhou", "Jinlong", "Huayuan", "Nanguo", "Yuhai",
              "Xinghai", "Baihua", "Shimao", "Vanke", "Evergreen", "Fuli", "Haiwan", "Tianyi")
_COMMUNITY_KIND = ("Garden", "Mingyuan", "Huafu", "New Village", "Residence", "Apartments")
_HOTEL_A = ("Seaview", "Coconut Grove", "Blue Bay", "Palm Beach", "Golden Coast", "Hibiscus", "Harbour", "Tropical",
            "Ocean Pearl", "Sunrise", "Yalong", "Dadonghai")
_HOTEL_B = ("Hotel", "Resort", "Holiday Inn", "Boutique Hotel", "Youth Hostel", "Apartment Hotel")


# --------------------------------------------------------------------------- goods


@dataclass(frozen=True)
class _Profile:
    """A line of goods: what is declared and how big, heavy and dense it really is."""

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
    _Profile("clothes", ("clothes", "T-shirt", "dress", "jacket", "apparel", "pants", "shoes"),
             ((_G, .35), (_O, .45), (_C, .2)), ("620520", "611020", "620462", "640299", "610910"),
             value=(120, .7), token=.04, weight=(600, .6), density=(.08, .28), max_qty=4),
    _Profile("cosmetics", ("cosmetics", "skin care", "face cream", "lipstick", "toner", "perfume"),
             ((_G, .5), (_O, .3), (_C, .2)), ("330499", "330410", "330300"),
             value=(180, .8), token=.04, weight=(420, .6), density=(.25, .65), max_qty=5),
    _Profile("electronics", ("phone case", "charger", "data cable", "earphones", "phone accessories", "power bank",
                             "electronics"),
             ((_G, .25), (_O, .45), (_C, .3)), ("392690", "850440", "854442", "851830", "850760"),
             value=(70, .9), token=.03, weight=(280, .7), density=(.12, .55), max_qty=4),
    _Profile("tea", ("tea", "green tea", "black tea", "tea gift box", "Dianhong tea", "oolong tea"),
             ((_G, .6), (_O, .3), (_C, .1)), ("090210", "090230", "090240"),
             value=(160, .8), token=.06, weight=(700, .5), density=(.1, .4), max_qty=4),
    # Compressed Pu'er cakes and bricks: the honest reason tea from Yunnan can be dense.
    _Profile("puer", ("Pu'er tea", "Pu'er tea cake", "Pu'er brick", "compressed tea", "tea"),
             ((_G, .55), (_O, .3), (_C, .15)), ("090230", "090240"),
             value=(200, 1.0), token=.06, weight=(1400, .55), density=(.45, 1.0), max_qty=7),
    _Profile("specialty", ("local specialty", "dried mushrooms", "flower cakes", "coffee beans", "walnuts",
                           "dried fruit"),
             ((_G, .6), (_O, .35), (_C, .05)), ("071239", "190590", "090111", "080232", "081340"),
             value=(110, .7), token=.07, weight=(1100, .6), density=(.15, .55), max_qty=5),
    _Profile("food", ("snacks", "food", "sausage", "dried seafood", "preserved fruit", "mooncakes", "rice noodles"),
             ((_G, .5), (_O, .4), (_C, .1)), ("160100", "030559", "190590", "200899", "190230"),
             value=(90, .7), token=.07, weight=(1600, .6), density=(.2, .65), max_qty=6),
    _Profile("jade", ("jade", "jade bracelet", "jewelry", "handicraft"),
             ((_G, .6), (_O, .2), (_C, .2)), ("710391", "711790", "711319"),
             value=(800, 1.3), token=.08, weight=(260, .6), density=(.9, 2.5), max_qty=3),
    _Profile("documents", ("documents", "files", "contract", "certificates", "invoices"),
             (("documents", .9), (_O, .1)), (),
             value=(20, .5), token=.85, weight=(180, .5), density=(.1, .4), max_qty=1),
    _Profile("gift", ("gift", "gifts", "daily goods", "personal items", "souvenir", "parts"),
             ((_G, .7), (_O, .3)), (),
             value=(60, 1.0), token=.25, weight=(900, .7), density=(.1, .55), max_qty=3),
    _Profile("household", ("daily goods", "household items", "kitchen supplies", "cleaning supplies", "towels",
                           "storage boxes"),
             ((_G, .2), (_O, .6), (_C, .2)), ("392410", "732393", "340220", "630260", "392490"),
             value=(60, .8), token=.05, weight=(1300, .7), density=(.1, .45), max_qty=6),
    _Profile("kitchenware", ("kitchen supplies", "cookware", "cast iron pan", "kitchen knives", "baking supplies",
                             "cream chargers"),
             ((_O, .6), (_C, .3), (_G, .1)), ("732391", "821192", "732393", "761510"),
             value=(150, .7), token=.03, weight=(2400, .5), density=(.45, 1.5), max_qty=3),
    _Profile("beverage", ("beverage", "drinks", "fruit juice", "wine", "liquor", "soy sauce", "Baijiu"),
             ((_G, .5), (_O, .4), (_C, .1)), ("220290", "220421", "220890", "210390", "200989"),
             value=(150, .9), token=.04, weight=(3000, .5), density=(.55, .98), max_qty=6),
    _Profile("industrial", ("industrial sample", "chemical sample", "reagent sample", "cleaning agent",
                            "coating sample", "lab supplies", "adhesive"),
             ((_S, .6), (_C, .3), (_O, .1)), ("382499", "340290", "320890", "340220", "350691", "381400", "292429"),
             value=(60, 1.0), token=.08, weight=(1800, .7), density=(.5, 1.2), max_qty=4),
    _Profile("parts", ("parts", "auto parts", "machine parts", "hardware", "tools", "bearings"),
             ((_O, .5), (_C, .45), (_S, .05)), ("870899", "848790", "820559", "731815", "848210"),
             value=(180, .9), token=.04, weight=(2200, .7), density=(.6, 2.3), max_qty=8),
    _Profile("books", ("books", "textbooks", "magazines"),
             ((_G, .3), (_O, .6), (_C, .1)), ("490199", "490290"),
             value=(80, .6), token=.03, weight=(1500, .5), density=(.5, .85), max_qty=6),
    _Profile("toys", ("toys", "stationery", "children's toys", "puzzle"),
             ((_G, .6), (_O, .3), (_C, .1)), ("950300", "960899", "482010"),
             value=(70, .8), token=.03, weight=(600, .6), density=(.08, .3), max_qty=5),
    _Profile("health", ("health supplements", "vitamins", "herbal medicine", "traditional medicine", "medicine"),
             ((_G, .5), (_O, .4), (_C, .1)), ("210690", "300490", "121190", "293629"),
             value=(200, .9), token=.04, weight=(600, .6), density=(.25, .65), max_qty=6),
    # Ring disguises reuse the commonest benign descriptions (repeats weight them), so no description is a
    # tell; what gives them away is the combination: too dense, too cheap, too new, wrong recipient.
    _Profile("ring_tea", ("tea", "tea", "tea gift box", "tea gift box", "Pu'er tea", "Pu'er tea cake",
                          "local specialty", "gift", "gift", "dried mushrooms"),
             ((_G, .55), (_O, .3), (_C, .15)), ("090230", "090240"),
             value=(70, 1.0), token=.2, weight=(1500, .45), density=(.55, 1.2), max_qty=3, hs_rate=.06),
    _Profile("ring_liquid", ("beverage", "fruit juice", "drinks", "cosmetics", "toner", "skin care", "perfume"),
             ((_G, .45), (_O, .4), (_C, .15)), ("220290", "330499"),
             value=(90, .8), token=.1, weight=(2600, .5), density=(.6, 1.0), max_qty=6, hs_rate=.08),
    # Precursors mostly carry rare organic-chemistry HS codes (29xxxx), sometimes a common one.
    _Profile("ring_precursor", ("industrial sample", "chemical sample", "reagent sample", "cleaning agent",
                                "lab supplies", "coating sample"),
             ((_S, .6), (_C, .35), (_O, .05)),
             ("291639", "292429", "293299", "291470", "292142", "293490", "382499", "340290"),
             value=(120, .9), token=.05, weight=(4500, .6), density=(.7, 1.3), max_qty=4, hs_rate=.85),
    # Nitrous-oxide cartridges: steel, so heavy for the box.
    _Profile("ring_n2o", ("kitchen supplies", "baking supplies", "cream chargers", "cookware", "household items",
                          "daily goods"),
             ((_C, .4), (_O, .45), (_G, .15)), ("732393", "761510", "731100"),
             value=(150, .7), token=.05, weight=(3200, .5), density=(.95, 2.0), max_qty=10, hs_rate=.3),
    _Profile("ring_electronics", ("phone accessories", "phone case", "charger", "earphones", "electronics",
                                  "power bank", "data cable"),
             ((_C, .65), (_S, .1), (_G, .25)), ("392690", "850440", "851830", "850760"),
             value=(160, .6), token=.02, weight=(700, .5), density=(.4, .95), max_qty=5, hs_rate=.4),
)
_PROFILE_INDEX = {p.key: i for i, p in enumerate(PROFILES)}
_PERSON_MIX: Weighted = (
    ("clothes", .17), ("documents", .09), ("gift", .14), ("food", .10), ("cosmetics", .08), ("household", .08),
    ("electronics", .08), ("health", .05), ("tea", .04), ("specialty", .03), ("books", .04), ("toys", .04),
    ("beverage", .03), ("parts", .02), ("kitchenware", .02),
)
_SHOP_MIX: Weighted = (
    ("clothes", .2), ("cosmetics", .12), ("electronics", .14), ("household", .12), ("toys", .06), ("food", .1),
    ("books", .04), ("health", .06), ("parts", .06), ("industrial", .04), ("kitchenware", .07), ("beverage", .04),
)
# Diffuse-risk senders pick vague, cheap person-to-person parcels more often than average.
_DIFFUSE_MIX: Weighted = (
    ("gift", .3), ("clothes", .2), ("household", .15), ("food", .15), ("cosmetics", .1), ("tea", .1),
)


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
    p: tuple[float, float]  # contraband probability range for one shipment
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
    business: bool = False  # fronts hold business accounts
    burst: tuple[int, int] = (1, 1)  # parcels sent to one fresh recipient in a single burst
    aged: float = 0.0  # share of fronts on bought, long-dormant accounts instead of fresh ones
    cover: tuple[str, ...] = ()  # benign profiles that camouflaged parcels copy exactly
    hours: tuple[int, int] = (9, 22)


RINGS: tuple[RingSpec, ...] = (
    RingSpec(
        pattern="yunnan_tea", origins=(("Kunming", .5), ("Pu'er", .2), ("Jinghong", .15), ("Dali", .15)), rate=3.4,
        disguise="ring_tea", cover=("puer", "tea", "specialty"),
        drugs=(("methamphetamine", .65), ("heroin", .25), ("ketamine", .1)), grams=(100, 1500), p=(.55, .8),
        account_age=(1, 10), aged=.2, uses=(2, 5), unverified=.25,
        payment=(("prepaid", .5), ("cash", .4), ("cod", .1)),
        service=(("standard", .6), ("express", .3), ("economy", .1)),
        address_types=(("locker", .45), ("pickup_point", .3), ("home", .2), ("hotel", .05)),
        dest_cities=(("Haikou", .6), ("Sanya", .3), ("Danzhou", .1)),
        drops=3, drop_uses=(6, 16), complicit=.4, mules=.3,
    ),
    RingSpec(
        pattern="yunnan_tea", origins=(("Lincang", .3), ("Ruili", .25), ("Baoshan", .15), ("Kunming", .3)), rate=2.8,
        disguise="ring_tea", cover=("puer", "tea", "specialty"),
        drugs=(("methamphetamine", .6), ("heroin", .3), ("ketamine", .1)), grams=(100, 1200), p=(.5, .75),
        account_age=(2, 12), aged=.2, uses=(2, 4), unverified=.3,
        payment=(("prepaid", .45), ("cash", .45), ("cod", .1)),
        service=(("standard", .7), ("express", .2), ("economy", .1)),
        address_types=(("pickup_point", .4), ("locker", .35), ("home", .25)),
        dest_cities=(("Haikou", .5), ("Sanya", .35), ("Qionghai", .15)),
        drops=2, drop_uses=(5, 12), complicit=.45, mules=.3,
    ),
    RingSpec(
        pattern="guangdong_liquid",
        origins=(("Zhanjiang", .5), ("Guangzhou", .25), ("Dongguan", .15), ("Maoming", .1)), rate=4.0,
        disguise="ring_liquid", cover=("beverage", "cosmetics"),
        drugs=(("ghb_liquid", .85), ("ketamine", .15)), grams=(300, 3000), p=(.4, .7),
        account_age=(0, 5), aged=.15, uses=(2, 4), unverified=.15,
        payment=(("cash", .6), ("prepaid", .3), ("cod", .1)), service=(("standard", .5), ("express", .5)),
        address_types=(("hotel", .55), ("home", .3), ("locker", .15)), dest_cities=(("Sanya", .6), ("Haikou", .4)),
        drops=2, drop_uses=(2, 6), complicit=.3, mules=.1, burst=(2, 5), hours=(12, 23),
    ),
    RingSpec(
        pattern="precursor_sample",
        origins=(("Guangzhou", .3), ("Dongguan", .3), ("Foshan", .15), ("Nanning", .15), ("Guiyang", .1)), rate=2.0,
        disguise="ring_precursor", cover=("industrial",),
        drugs=(("precursor", 1.0),), grams=(1000, 10000), p=(.3, .6),
        account_age=(20, 240), uses=(8, 20), unverified=.02, business=True,
        payment=(("business_account", .7), ("prepaid", .3)),
        service=(("economy", .4), ("standard", .5), ("express", .1)),
        address_types=(("business", .7), ("home", .3)),
        dest_cities=(("Haikou", .55), ("Danzhou", .25), ("Sanya", .2)),
        drops=2, drop_uses=(10, 25), complicit=.2, mules=0.0, hours=(14, 21),
    ),
    RingSpec(
        pattern="nitrous_kitchen",
        origins=(("Guangzhou", .35), ("Foshan", .3), ("Shenzhen", .2), ("Nanning", .15)), rate=3.2,
        disguise="ring_n2o", cover=("kitchenware", "household"),
        drugs=(("nitrous_oxide", 1.0),), grams=(500, 6000), p=(.5, .8),
        account_age=(3, 30), aged=.25, uses=(3, 6), unverified=.1,
        payment=(("prepaid", .6), ("cod", .25), ("cash", .15)),
        service=(("standard", .6), ("express", .3), ("economy", .1)),
        address_types=(("business", .4), ("home", .3), ("locker", .3)), dest_cities=(("Haikou", .5), ("Sanya", .5)),
        drops=4, drop_uses=(4, 10), complicit=.3, mules=.3,
    ),
)
# The ring that appears on new_pattern_day: a new route and disguise, and accounts that mostly
# look like dormant businesses, so a model trained before it sees little of what it learnt.
NEW_RING = RingSpec(
    pattern=NEW_PATTERN, origins=(("Chengdu", .7), ("Mianyang", .15), ("Guiyang", .15)), rate=5.0,
    disguise="ring_electronics", cover=("electronics",),
    drugs=(("ketamine", .5), ("methamphetamine", .4), ("heroin", .1)), grams=(50, 800), p=(.5, .75),
    account_age=(2, 15), aged=.65, uses=(5, 10), unverified=.05, business=True,
    payment=(("prepaid", .8), ("business_account", .2)), service=(("express", .5), ("standard", .5)),
    address_types=(("home", .75), ("locker", .25)), dest_cities=(("Haikou", .6), ("Sanya", .4)),
    drops=5, drop_uses=(2, 4), complicit=.1, mules=.5,
)

# ---- tuning knobs (calibrated at 8,000 parcels/day; see the module's tests for the targets)

# Share of ring parcels packed to look exactly like their cover goods (right density, normal value):
# only identities, routes and recipients give those away.
CAMOUFLAGE = 0.2
SHOP_SHARE = 0.44  # e-commerce share of the daily flow before any promo
RETURN_SHARE = 0.06  # of the non-merchant flow
NEWCOMER_SHARE = 0.09  # individuals' parcels sent from a freshly opened account
# Latent per-parcel probability of a diffuse-risk sender (log-uniform). Spread thinly over many
# ordinary-looking parcels, it is the part of contraband that no ranking can concentrate.
DIFFUSE_RISK = (0.002, 0.008)
COLLECTOR_SHARE = 0.3  # diffuse-risk senders who feed a Hainan collector (and carry 1.5x the risk)
BENIGN_RISK = (1.3e-4, 3e-5, 6e-4)  # base from a source province, base elsewhere, cap
PROMO_VOLUME, PROMO_PRICE = 1.6, 0.6  # shift_day: merchant volume up, many items discounted

_DIFFUSE_DRUGS: Weighted = (("methamphetamine", .5), ("ketamine", .3), ("heroin", .1), ("ghb_liquid", .1))
_BACKGROUND_DRUGS: Weighted = (
    ("methamphetamine", .4), ("ketamine", .3), ("heroin", .1), ("ghb_liquid", .1), ("nitrous_oxide", .1),
)
_CARRIERS: Weighted = (("ZTO", .22), ("YTO", .17), ("YD", .15), ("JT", .15), ("STO", .12), ("SF", .11), ("EMS", .08))
# (prefix, random digits), after the carriers' public waybill formats.
_WAYBILL = {
    "JT": ("JT5", 12), "SF": ("SF1", 12), "YTO": ("YT4", 12), "ZTO": ("78", 12),
    "STO": ("77", 11), "YD": ("43", 11), "EMS": ("11", 11),
}
_HOUR_PERSON = (0, 0, 0, 0, 0, 0, 0, .5, 2, 4, 5, 5, 4, 3.5, 3.5, 3.5, 4, 5, 6, 6, 5, 3, 1.5, .3)
_HOUR_SHOP = (.1, 0, 0, 0, 0, 0, 0, .2, .5, 1, 1.5, 2, 2, 2.5, 3, 4, 6, 8, 9, 8, 5, 2, .8, .3)  # evening pickups
_WEEKDAY = (1.05, 1.05, 1.05, 1.05, 1.1, 0.9, 0.8)  # Monday first: weekends are quieter
_TIMES = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400))
